"""Writing a private file (a key, a wallet, a guardian's state): the one way clients/ and server/
do it.

Invariants of :func:`write_private`: the bytes are never readable by anyone but the owner, not
even for a moment (the temporary file is created with O_CREAT | O_EXCL and mode 0600, and set to
exactly 0600 whatever the umask, before anything is written); a reader sees the old file whole or
the new file whole, never a part (the temporary file, in the same directory, is written straight
to its descriptor and fsynced, then renamed onto the path, and the directory fsynced); a failure
leaves the old file as it was and no temporary file behind.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

PRIVATE_MODE = 0o600


def write_private(path: str | os.PathLike[str], data: bytes | str, *,
                  exclusive: bool = False) -> None:
    """Write ``data`` (a str is UTF-8 encoded) to ``path`` atomically, with mode 0600.

    An existing file at ``path`` is replaced whole; with ``exclusive=True`` it is not touched
    and FileExistsError is raised instead (a key that is made once: two processes racing to
    create it cannot both succeed, and neither overwrites the other).
    """
    path = Path(path)
    raw = data.encode() if isinstance(data, str) else bytes(data)
    directory = path.parent
    tmp = directory / f".{path.name}.{secrets.token_hex(6)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_MODE)
    try:
        try:
            os.fchmod(fd, PRIVATE_MODE)  # the umask may have taken bits away, never added any
            view = memoryview(raw)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        if exclusive:
            os.link(tmp, path)  # atomic, and refuses an existing path (FileExistsError)
            os.unlink(tmp)
        else:
            os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_directory(directory)


def _fsync_directory(directory: Path) -> None:
    """Make the rename durable: the directory entry is on disk once this returns."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
