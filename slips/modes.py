"""Slips written before their modes were narrowed, narrowed.

FILE_UPLOAD_PERMISSIONS and FILE_UPLOAD_DIRECTORY_PERMISSIONS make every new slip 0640
in 0750 folders: its service's user and group (a backup) read it, no one else on the
machine. Slips an older version wrote, and slips a restore unpacked from an older
backup, are 0644 in 0755 folders. `tisser migrate` (which `tisser serve` runs at every
start) takes group write and every right of others off them.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path
from typing import Any

from django.conf import settings

logger = logging.getLogger(__name__)

# What no slip, and no folder of slips, may allow: group write, anything for others.
TOO_OPEN = 0o027


def slip_modes_narrow(root: Path | None = None) -> int:
    """Narrow every file and folder under MEDIA_ROOT that allows more than 0640/0750,
    never widening one. Links are not followed. Returns how many were narrowed."""
    root = Path(root or settings.MEDIA_ROOT)
    if not root.is_dir():
        return 0
    narrowed = failed = 0
    for folder, _, files in os.walk(root):
        for path in (folder, *(os.path.join(folder, name) for name in files)):
            try:
                status = os.lstat(path)
                if stat.S_ISLNK(status.st_mode) or not status.st_mode & TOO_OPEN:
                    continue
                os.chmod(path, stat.S_IMODE(status.st_mode) & ~TOO_OPEN)
                narrowed += 1
            except OSError:  # gone meanwhile, or another user's
                failed += 1
    if narrowed:
        logger.info("slips: narrowed %s file(s) and folder(s) under %s", narrowed, root)
    if failed:
        logger.warning("slips: could not narrow %s file(s) or folder(s) under %s", failed, root)
    return narrowed


def slip_modes_narrow_after_migrate(*, plan: Any = None, **kwargs: Any) -> None:
    """post_migrate receiver. `flush` (the tests, between transactional tests) sends the
    signal too, without a plan: only `migrate` narrows."""
    if plan is not None:
        slip_modes_narrow()
