"""Folders and files a person names (KURA_HOME, `--out`): checked before any work, explained when a write fails;
and the lock on a folder that one writer at a time may change.

What a person should see is one line naming the path and what to do, never a traceback: a file where a folder
belongs, a read-only or full disk. The checks use `os.access`, which knows read-only file systems even for
root and creates nothing; a full disk only shows when writing, so `explain_os_error` words that error too.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows: no advisory locks
    fcntl = None  # type: ignore[assignment]


@contextmanager
def folder_lock(folder: Path) -> Iterator[None]:
    """An exclusive `flock` on a folder, released when its descriptor closes (on Windows, none: do not run two
    writers of one folder at once)."""
    if fcntl is None:
        yield
        return
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)


class PathError(Exception):
    """A file or folder that cannot be used; the message names it and says what to do."""


def _nearest_existing(path: Path) -> Path:
    """`path` or its closest ancestor that exists: where a new file or folder would be created."""
    for candidate in (path, *path.parents):
        try:
            if candidate.exists():
                return candidate
        except OSError:
            continue
    return Path(path.anchor or ".")


def _why_not_writable(folder: Path) -> str | None:
    """None when files can be created in `folder`, else the reason in words."""
    if not folder.is_dir():
        return f"{folder} is a file, not a folder"
    if os.access(folder, os.W_OK | os.X_OK):
        return None
    try:
        if os.statvfs(folder).f_flag & os.ST_RDONLY:
            return "read-only file system"
    except OSError:
        pass
    return "permission denied"


def ensure_writable_folder(path: Path, label: str, advice: str) -> None:
    """Create `path` if needed and check files can be written in it; else a PathError
    "`label`: <what is wrong>; `advice`"."""
    try:
        if path.exists() and not path.is_dir():
            raise PathError(f"{label}: is a file, not a folder; {advice}")
        existing = _nearest_existing(path)
        if not existing.is_dir():
            raise PathError(f"{label}: cannot create this folder ({existing} is a file); {advice}")
        path.mkdir(parents=True, exist_ok=True)
    except PathError:
        raise
    except OSError as error:
        raise PathError(f"{label}: cannot create this folder ({_reason(error)}); {advice}") from None
    reason = _why_not_writable(path)
    if reason:
        raise PathError(f"{label}: cannot write in this folder ({reason}); {advice}")


def check_output_file(path: Path, option: str = "--out") -> None:
    """A file about to be written (the report): not a folder, in a folder that exists or can be created
    and can be written. Creates nothing."""
    if path.is_dir():
        raise PathError(f"{path}: is a folder; {option} names the file to write, e.g. {path / 'report.html'}")
    _check_creatable(path, _nearest_existing(path.parent), option)


def check_output_folder(path: Path, option: str = "--out") -> None:
    """A folder about to be filled (an export): not a file, and writable or creatable. Creates nothing."""
    if path.exists() and not path.is_dir():
        raise PathError(f"{path}: is a file; {option} names the folder to write into")
    _check_creatable(path, _nearest_existing(path), option)


def _check_creatable(path: Path, existing: Path, option: str) -> None:
    reason = _why_not_writable(existing)
    if reason:
        raise PathError(f"{path}: cannot write there ({reason}); choose another {option}")


def _reason(error: OSError) -> str:
    return (error.strerror or str(error)).lower()


def explain_os_error(error: OSError, path: str | os.PathLike | None = None) -> str:
    """One line for a failed write: the path (the error's, else `path`), what went wrong, what to do."""
    where = error.filename or path
    return (f"{where}: " if where else "") + os_error_advice(error)


def os_error_advice(error: OSError) -> str:
    """What went wrong in a failed write, and what to do, without the path."""
    advice = {
        errno.ENOSPC: "no space left on the device; free some space or write somewhere else",
        errno.EFBIG: "file too large for this file system or limit; free some space or write somewhere else",
        errno.EDQUOT: "disk quota exceeded; free some space or write somewhere else",
        errno.EROFS: "read-only file system; write somewhere else",
        errno.EACCES: "permission denied; write somewhere you may write",
        errno.EPERM: "operation not permitted; write somewhere you may write",
        errno.EISDIR: "is a folder where a file was expected; name a file",
        errno.ENOTDIR: "a file is in the way where a folder was expected; choose another path",
    }.get(error.errno)
    return advice or _reason(error)
