"""Configuration files made to hurt a loader: bombs, loops, wrong encodings, files that are not files."""

from __future__ import annotations

import os
from pathlib import Path


def billion_laughs(path: Path) -> Path:
    text = 'a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]\n'
    for previous, name in zip("abcdefgh", "bcdefghi", strict=True):
        text += f"{name}: &{name} [{', '.join([f'*{previous}'] * 9)}]\n"
    path.write_text(text)
    return path


def recursive_alias(path: Path) -> Path:
    path.write_text("station: &loop\n  name: [*loop]\n")
    return path


def deep_flow_nesting(path: Path) -> Path:
    path.write_text("station: " + "[" * 100_000 + "]" * 100_000 + "\n")
    return path


def deep_block_nesting(path: Path) -> Path:
    path.write_text("station:\n  " + "- " * 100_000 + "x\n")
    return path


def binary(path: Path) -> Path:
    path.write_bytes(bytes(range(256)) * 64)
    return path


def gbk(path: Path) -> Path:
    path.write_bytes("station:\n  id: cs-0427\n  name: 河滨社区服务站\n".encode("gbk"))
    return path


def fifo(path: Path) -> Path:
    os.mkfifo(path)  # nobody writes to it: opening it for reading would block
    return path


def dev_zero(path: Path) -> Path:
    return Path("/dev/zero")


def fifty_megabytes(path: Path) -> Path:
    with path.open("wb") as file:
        file.truncate(50 * 1024 * 1024)
    return path


def directory(path: Path) -> Path:
    path.mkdir()
    return path


def impossible_date(path: Path) -> Path:
    path.write_text("station:\n  name: 2024-13-01\n")
    return path
