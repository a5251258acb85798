"""What a release carries beside the code: the licence's full text, and a changelog
whose newest entry is the version being prepared."""

from __future__ import annotations

import hashlib
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# sha256 of https://www.gnu.org/licenses/agpl-3.0.txt, the FSF's text of the licence.
AGPL_3_SHA256 = "0d96a4ff68ad6d4b6f1f30f713b18d5184912ba8dd389f86aa7710db079abcb0"


def _project() -> dict[str, str]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def test_the_licence_is_the_agpl_in_full() -> None:
    text = (ROOT / "LICENSE").read_bytes()

    assert _project()["license"] == "AGPL-3.0-or-later"
    assert hashlib.sha256(text).hexdigest() == AGPL_3_SHA256
    assert b"GNU AFFERO GENERAL PUBLIC LICENSE\n                       Version 3" in text


def test_the_changelog_leads_with_the_version_being_prepared() -> None:
    headings = re.findall(
        r"^## \[([^\]]+)\](?: - (\S+))?$", (ROOT / "CHANGELOG.md").read_text(), re.M
    )

    newest, date = headings[0]
    if newest != "Unreleased":
        assert newest == _project()["version"]
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", date)
    assert headings.count((newest, date)) == 1
