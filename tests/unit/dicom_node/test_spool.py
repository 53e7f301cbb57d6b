"""The spool: durable writes, temp files never counted, sweep at startup."""

from __future__ import annotations

from pathlib import Path

import pytest

from dicom_node.spool import Spool


def test_write_is_complete_and_leaves_no_temp(tmp_path: Path) -> None:
    s = Spool(tmp_path)
    final = s.final_path("1.2", "1.2.3", "1.2.3.4")
    assert final == tmp_path / "spool" / "1.2" / "1.2.3" / "1.2.3.4.dcm"
    assert s.write(final, [b"abc", memoryview(b"defg")]) == 7
    assert final.read_bytes() == b"abcdefg"
    assert list(s.tmp.iterdir()) == []
    assert list(s.instance_files()) == [final]


def test_failed_write_removes_its_temp_file(tmp_path: Path) -> None:
    s = Spool(tmp_path)

    def chunks():
        yield b"abc"
        raise OSError(28, "disk full")

    with pytest.raises(OSError):
        s.write(s.final_path("1", "2", "3"), chunks())
    assert list(s.tmp.iterdir()) == []
    assert list(s.instance_files()) == []


def test_sweep_removes_temp_files_only(tmp_path: Path) -> None:
    s = Spool(tmp_path)
    s.write(s.final_path("1", "2", "3"), [b"x"])
    (s.tmp / "a.part").write_bytes(b"half")
    (s.tmp / "b.part").write_bytes(b"half")
    report = Spool(tmp_path).sweep()
    assert (report.temp_files_removed, report.instance_files) == (2, 1)
    assert list(s.tmp.iterdir()) == []


def test_final_path_refuses_path_tricks(tmp_path: Path) -> None:
    s = Spool(tmp_path)
    with pytest.raises(ValueError, match="series_uid"):
        s.final_path("1.2", "../..", "1.3")


def test_spooled_photos_are_private(tmp_path: Path) -> None:
    """Received photos hold patient data: 0600 files in 0700 folders, whatever the umask."""
    import os

    old = os.umask(0o022)  # a typical service umask (files 0644, folders 0755 by default)
    try:
        storage = tmp_path / "var"
        s = Spool(storage)
        final = s.final_path("1.2", "1.2.3", "1.2.3.4")
        s.write(final, [b"abc"])
    finally:
        os.umask(old)
    assert final.stat().st_mode & 0o777 == 0o600
    for folder in (storage, s.root, s.tmp, final.parent, final.parent.parent):
        assert folder.stat().st_mode & 0o777 == 0o700, folder
