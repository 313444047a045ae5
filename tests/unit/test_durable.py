"""Durable replacement of a state file: the new content or the old, and no leftovers."""

from __future__ import annotations

import pytest

from gateway.durable import write_durably


def test_the_new_content_replaces_the_old_and_no_temporary_file_remains(tmp_path):
    path = tmp_path / "seq"
    write_durably(path, "1000\n")
    write_durably(path, "2000\n")
    assert path.read_text() == "2000\n"
    assert [p.name for p in tmp_path.iterdir()] == ["seq"]


def test_content_that_cannot_be_written_leaves_the_old_file_intact(tmp_path):
    path = tmp_path / "alarms.json"
    write_durably(path, '{"version":1}')
    with pytest.raises(UnicodeEncodeError):
        write_durably(path, "\udc80")  # a lone surrogate: no UTF-8 for it
    assert path.read_text() == '{"version":1}'
    assert [p.name for p in tmp_path.iterdir()] == ["alarms.json"]


def test_a_failed_rename_leaves_the_target_and_no_temporary_file(tmp_path):
    path = tmp_path / "boot_count"
    path.mkdir()  # a directory where the file should be: the rename fails
    (path / "kept").write_text("x")
    with pytest.raises(IsADirectoryError):
        write_durably(path, "3\n")
    assert [p.name for p in path.iterdir()] == ["kept"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["boot_count"]
