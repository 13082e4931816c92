"""ownervote.files.write_private: mode 0600 from the first byte, an atomic replace, nothing left
behind by a failure, and the exclusive creation of a key that is made once."""

from __future__ import annotations

import os
import stat

import pytest
from ownervote.files import write_private


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def umask():
    """Set a umask for the test (the process's is restored afterwards)."""
    old = os.umask(0o022)
    yield os.umask
    os.umask(old)


@pytest.fixture
def watched(monkeypatch):
    """Every os.open of the helper (path, flags, mode) and the mode of every regular file it
    fsyncs, in order."""
    opens: list[tuple[str, int, int]] = []
    synced: list[int] = []
    real_open, real_fsync = os.open, os.fsync

    def open_(path, flags, mode=0o777, *args, **kwargs):
        opens.append((os.fspath(path), flags, mode))
        return real_open(path, flags, mode, *args, **kwargs)

    def fsync(fd):
        st = os.fstat(fd)
        if stat.S_ISREG(st.st_mode):
            synced.append(stat.S_IMODE(st.st_mode))
        return real_fsync(fd)

    monkeypatch.setattr(os, "open", open_)
    monkeypatch.setattr(os, "fsync", fsync)
    return opens, synced


@pytest.mark.parametrize("data, raw", [("a wallet ✓\n", "a wallet ✓\n".encode()),
                                       (b"\x00key\xff", b"\x00key\xff"), ("", b"")])
def test_str_and_bytes_are_written_with_mode_0600(tmp_path, data, raw):
    path = tmp_path / "private"
    write_private(path, data)
    assert path.read_bytes() == raw
    assert mode(path) == 0o600
    assert os.listdir(tmp_path) == ["private"]


@pytest.mark.parametrize("mask", [0o000, 0o022, 0o277], ids=["000", "022", "277"])
def test_the_temporary_file_is_private_from_its_creation(tmp_path, watched, umask, mask):
    opens, synced = watched
    umask(mask)  # neither a permissive nor a restrictive umask changes the mode
    path = tmp_path / "state.json"
    write_private(path, "secret")
    tmp, flags, created_mode = opens[0]
    assert os.path.dirname(tmp) == str(tmp_path) and tmp != str(path)
    assert flags & os.O_CREAT and flags & os.O_EXCL  # a new file, never an existing one
    assert created_mode == 0o600
    assert synced == [0o600]  # the temporary file, written and 0600 before the rename
    assert mode(path) == 0o600
    assert os.listdir(tmp_path) == ["state.json"]


def test_an_existing_file_is_replaced_whole(tmp_path):
    path = tmp_path / "wallet.json"
    path.write_text("the old contents, longer than the new ones")
    path.chmod(0o644)
    with open(path) as reader:  # opened before the replace
        write_private(path, "new")
        assert reader.read() == "the old contents, longer than the new ones"
    assert path.read_text() == "new"  # no tail of the old file
    assert mode(path) == 0o600  # the old file's mode is not kept
    assert os.listdir(tmp_path) == ["wallet.json"]


@pytest.mark.parametrize("exclusive", [False, True])
def test_a_failure_while_writing_leaves_the_old_file_and_no_temporary_file(
        tmp_path, monkeypatch, exclusive):
    path = tmp_path / "guardian.json"
    path.write_text("old state")
    fresh = tmp_path / "fresh.key"

    def broken_fsync(fd):
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="disk full"):
        write_private(path, "new state")
    with pytest.raises(OSError, match="disk full"):
        write_private(fresh, "a key", exclusive=exclusive)
    assert path.read_text() == "old state"
    assert os.listdir(tmp_path) == ["guardian.json"]


def test_exclusive_refuses_an_existing_path(tmp_path):
    path = tmp_path / "log.key"
    write_private(path, "the first key\n", exclusive=True)
    assert path.read_text() == "the first key\n" and mode(path) == 0o600
    with pytest.raises(FileExistsError):
        write_private(path, "a second key\n", exclusive=True)
    assert path.read_text() == "the first key\n"
    assert os.listdir(tmp_path) == ["log.key"]
    write_private(path, "replaced\n")  # without exclusive the same path is replaced
    assert path.read_text() == "replaced\n"
