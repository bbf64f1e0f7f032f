"""Crash-safe, multi-writer updates of one HDF5 file: a lock, a private copy, an atomic rename.

HDF5 files are corrupted when a writer dies mid-write, and HDF5 does not support two writers. So
the live store is never modified in place:

1. take an exclusive `fcntl.flock` on the sibling file `<store>.lock` (the kernel releases it when
   the holder dies, even by SIGKILL, so a killed writer never blocks later ones);
2. copy the live store to a temporary file in the same directory and change the copy;
3. flush and close it, `fsync` it, `os.replace` it over the live store, `fsync` the directory.

`os.replace` within one directory is atomic on POSIX: a reader (or a crash) sees either the old
complete file or the new complete file. Readers take no lock; an open reader keeps reading the
old file's inode after a rename. A killed writer leaves at most a stale temporary file, which the
next writer deletes under the lock. The lock file itself is never deleted, because deleting a lock
file lets two processes lock two different inodes.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import re
import secrets
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from phenbench.core.errors import PhenbenchError

LOCK_SUFFIX = ".lock"
TEMP_SUFFIX = ".tmp"


def lock_path_for(path: Path) -> Path:
    return path.with_name(path.name + LOCK_SUFFIX)


def _temp_prefix(path: Path) -> str:
    return f".{path.name}."


@contextlib.contextmanager
def exclusive_lock(path: Path, timeout: float = 600.0) -> Iterator[None]:
    """Hold the store's lock file exclusively; wait at most `timeout` seconds for it."""
    lock_path = lock_path_for(path)
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as exc:
        raise PhenbenchError(
            f"Cannot create the lock file {lock_path} ({exc.strerror}); the store's folder must be writable."
        ) from None
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                    raise
                if time.monotonic() > deadline:
                    raise PhenbenchError(
                        f"Another process has held {lock_path} for over {timeout:.0f} s; wait for its write "
                        "to finish (a hung process keeps the lock until it ends)."
                    ) from None
                time.sleep(0.01)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the flock


def remove_stale_temps(path: Path) -> int:
    """Delete temporary copies left by killed writers. Call only while holding the lock."""
    # Exactly our own names: `.results.h5.bak.<pid>.<hex>.tmp` belongs to another store and lock.
    ours = re.compile(re.escape(_temp_prefix(path)) + r"\d+\.[0-9a-f]{8}" + re.escape(TEMP_SUFFIX))
    removed = 0
    for candidate in path.parent.glob(_temp_prefix(path) + "*" + TEMP_SUFFIX):
        if not ours.fullmatch(candidate.name):
            continue
        with contextlib.suppress(FileNotFoundError):
            candidate.unlink()
            removed += 1
    return removed


def publish_changed_copy(path: Path, change: Callable[[Path, bool], None]) -> None:
    """Copy `path` (if it exists) to a temporary file, let `change(temp, existed)` edit it, and
    atomically put it in place. Call only while holding the lock. On any error the live file is
    untouched and the copy is deleted."""
    temp = path.with_name(f"{_temp_prefix(path)}{os.getpid()}.{secrets.token_hex(4)}{TEMP_SUFFIX}")
    existed = path.exists()
    try:
        if existed:
            shutil.copyfile(path, temp)
        change(temp, existed)
        if existed:  # after the change, so that a read-only store still gets its mode back
            shutil.copymode(path, temp)
        _fsync_file(temp)
        os.replace(temp, path)
        _fsync_directory(path.parent)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()
        raise


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_directory(directory: Path) -> None:
    # Makes the rename itself durable across a power loss; some filesystems refuse it.
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
