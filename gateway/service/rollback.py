"""``outpost rollback``: reinstall the version the last package upgrade replaced.

The package's preinst keeps that version's files as a package tree under
``/opt/outpost/previous/package`` before dpkg replaces them; rolling back builds a
``.deb`` from it and installs it with ``dpkg -i``, so dpkg's own bookkeeping
(conffiles, maintainer scripts, the check before the restart) applies as to any
downgrade, and the version rolled back from is kept in turn.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

PREVIOUS_TREE = Path("opt/outpost/previous/package")


def previous_version(root: Path) -> str | None:
    """The version kept for a rollback under ``root``, or None when none is kept."""
    control = root / PREVIOUS_TREE / "DEBIAN" / "control"
    if not control.is_file():
        return None
    for line in control.read_text(encoding="utf-8").splitlines():
        if line.startswith("Version:"):
            return line.split(":", 1)[1].strip()
    return None


def rollback(root: Path) -> int:
    """Build the kept version into a package and let dpkg install it; 0 once it is installed."""
    version = previous_version(root)
    if version is None:
        print(
            f"outpost rollback: no previous version is kept in {root / PREVIOUS_TREE} "
            "(one is kept from the first package upgrade on); 'dpkg -i' an older .deb instead",
            file=sys.stderr,
        )
        return 1
    dpkg_root = [] if root == Path("/") else [f"--root={root}"]
    with tempfile.TemporaryDirectory(prefix="outpost-rollback-") as scratch:
        deb = Path(scratch) / f"outpost_{version}.deb"
        subprocess.run(
            ["dpkg-deb", "--root-owner-group", "-Znone", "--build", str(root / PREVIOUS_TREE), str(deb)],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        print(f"outpost rollback: installing outpost {version}")
        # A rollback is a downgrade by definition: forced, whatever dpkg.cfg or DPKG_FORCE say.
        dpkg = subprocess.run(["dpkg", *dpkg_root, "--force-downgrade", "-i", str(deb)], check=False)
    installed = subprocess.run(
        ["dpkg-query", *dpkg_root, "-W", "-f=${Version}", "outpost"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    if dpkg.returncode != 0 or installed != version:
        print(
            f"outpost rollback: outpost {installed or 'nothing'} is installed, not {version}", file=sys.stderr
        )
        return 1
    return 0


def _cmd_rollback(args: argparse.Namespace) -> int:
    return rollback(args.root)


def add_rollback_command(commands: argparse._SubParsersAction) -> None:
    """``outpost rollback [--root DIR]`` (as root: it runs dpkg)."""
    parser = commands.add_parser(
        "rollback", help="reinstall the package version the last upgrade replaced (as root)"
    )
    parser.add_argument(
        "--root",
        type=Path,
        default=Path("/"),
        help="the system to roll back, e.g. a mounted SD card (default: /)",
    )
    parser.set_defaults(handler=_cmd_rollback)
