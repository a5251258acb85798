"""Slips an older Tisser wrote readable by everyone on the machine (0644 in 0755 folders)
are narrowed to what new ones get (0640 in 0750) when `tisser migrate` runs, which
`tisser serve` does at every start."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from django.core.management import call_command


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


@pytest.mark.django_db
def test_migrate_narrows_the_slips_an_older_version_left_open(media: Path, tmp_path: Path) -> None:
    folder = media / "slips" / "2024" / "05"
    folder.mkdir(parents=True)
    old = folder / "K7M-3QF.pdf"
    old.write_bytes(b"%PDF-1.7 x")
    private = folder / "private.pdf"
    private.write_bytes(b"%PDF-1.7 y")
    outside = tmp_path / "not-a-slip.txt"
    outside.write_text("")
    outside.chmod(0o644)
    (media / "a-link").symlink_to(outside)
    for path, wide in [(old, 0o644), (private, 0o600), *[(f, 0o755) for f in folder.parents]]:
        if path.is_relative_to(media):
            path.chmod(wide)
    folder.chmod(0o755)

    call_command("migrate", verbosity=0)

    assert mode(old) == 0o640
    assert mode(private) == 0o600  # never wider than it was
    for path in (media, media / "slips", media / "slips" / "2024", folder):
        assert mode(path) == 0o750, path
    assert mode(outside) == 0o644  # a link is not followed out of the slips' folder
