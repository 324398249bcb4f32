"""Writing report files so that a reader never sees half a file."""

from __future__ import annotations

import glob
import hashlib
import os
import tempfile
import time
from functools import cache
from pathlib import Path


TEMPORARY_SUFFIX = ".tmp"


def write_atomic(path: Path, data: bytes) -> None:
    """Write `path` whole or not at all, readable as any file this user makes (0644 under 022)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # What a killed writer of this same file left behind: never renamed, never to be.
    for leftover in path.parent.glob(f".{glob.escape(path.name)}.*{TEMPORARY_SUFFIX}"):
        leftover.unlink(missing_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TEMPORARY_SUFFIX)
    try:
        # mkstemp makes the file 0600; a report is for reading like the others in its folder.
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def remove_stale_temporaries(root: Path, older_than_s: float) -> int:
    """Delete the temporary files of writes interrupted more than `older_than_s` ago under `root`.

    Files of writes under way (another run drawing right now) are younger, so they are kept.
    """
    removed = 0
    cutoff = time.time() - older_than_s
    for leftover in root.rglob(f".*{TEMPORARY_SUFFIX}"):
        try:
            if leftover.is_file() and leftover.stat().st_mtime < cutoff:
                leftover.unlink()
                removed += 1
        except FileNotFoundError:
            pass  # its writer finished or removed it meanwhile
    return removed


@cache  # a process's umask is set once at its start; reading it for every file cost 0.1 ms
def _umask() -> int:
    """The process's umask, read without changing it (os.umask can only set it)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    return 0o022


def sha256_of(path: Path) -> str | None:
    if not path.is_file():
        return None
    return hashlib.sha256(path.read_bytes()).hexdigest()
