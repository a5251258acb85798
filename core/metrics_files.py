"""Which measurement files in the shared metrics directory belong to running processes.

Every process writes its Prometheus measurements to files named `<kind>_<host>-<pid>.db`
in TISSER_METRICS_DIR, shared by every container (core.metrics). A process that has
ended leaves its files, and `/metrics` reads every file on every scrape. A pid says
nothing from another container, and a recreated container has a new host name, so
neither tells whether the owner still runs.

A lock does: each process holds an exclusive `flock` on `<host>-<pid>.lock` in the same
directory for as long as it lives, and the kernel lets it go however the process ends
(SIGKILL and a removed container included). Containers on one machine share the kernel,
so the lock holds across them. Whoever can take an owner's lock knows the owner has
ended, and removes its files while holding it.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

_held: dict[str, int] = {}  # "pid" and "fd" of the lock this process holds


def _lock_path(directory: Path, owner: str) -> Path:
    return directory / f"{owner}.lock"


def owner_lock_hold(directory: Path, owner: str) -> None:
    """Hold `owner`'s lock for the life of this process (once per pid: a forked child
    takes its own, its parent's stays with the parent)."""
    pid = os.getpid()
    if _held.get("pid") == pid:
        return
    path = _lock_path(directory, owner)
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        # Waits only while a pruner that took it before we did removes it.
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            if os.fstat(fd).st_ino == os.stat(path).st_ino:
                break
        except FileNotFoundError:
            pass
        os.close(fd)  # a pruner removed the file meanwhile: lock a new one
    inherited = _held.get("fd")
    if inherited is not None:
        # The parent's lock, inherited through fork: closing our copy leaves it held.
        os.close(inherited)
    _held.update(pid=pid, fd=fd)


def metrics_files_prune(directory: Path) -> int:
    """Remove the files of every owner whose lock no process holds; return how many.
    A process's files are created after its lock, so an owner with files but no lock
    file has ended too (a process of an older Tisser, or a pruner's leftover)."""
    owners = {path.stem.rsplit("_", 1)[-1] for path in directory.glob("*_*.db")}
    owners |= {path.stem for path in directory.glob("*.lock")}
    removed = 0
    for owner in sorted(owners):
        removed += _owner_prune(directory, owner)
    return removed


def _owner_prune(directory: Path, owner: str) -> int:
    path = _lock_path(directory, owner)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
    except FileNotFoundError:
        fd = None
    try:
        if fd is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return 0  # its process runs (or another pruner is at it)
        removed = 0
        for db in directory.glob(f"*_{owner}.db"):
            db.unlink(missing_ok=True)
            removed += 1
        if fd is not None:
            path.unlink(missing_ok=True)
        return removed
    finally:
        if fd is not None:
            os.close(fd)
