"""Install, unit file and uninstall, into a staging root (DESTDIR), checked with systemd's own tools."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest

from tests.support.peers import REPO

pytestmark = pytest.mark.slow

UNIT = REPO / "systemd" / "outpost.service"
needs_systemd_analyze = pytest.mark.skipif(
    shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed"
)


def install(root, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(REPO / "scripts" / "install"), *args],
        env={**os.environ, "DESTDIR": str(root)},
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def staged(tmp_path_factory):
    root = tmp_path_factory.mktemp("root")
    install(root)
    return root


def test_install_lays_out_program_config_and_enabled_unit(staged):
    outpost = staged / "opt/outpost/venv/bin/outpost"
    version = subprocess.run([str(outpost), "--version"], capture_output=True, text=True, check=True)
    assert version.stdout.startswith("outpost ")
    assert not (staged / "etc/outpost/station.yaml").exists()  # the service waits for the technician's
    assert os.readlink(staged / "usr/local/bin/outpost") == "/opt/outpost/venv/bin/outpost"
    config = staged / "etc/outpost/station.yaml.example"
    check = subprocess.run([str(outpost), "check", str(config)], capture_output=True, text=True, check=False)
    assert check.returncode == 0, check.stderr  # the installed package finds its bundled profiles
    assert (staged / "etc/systemd/system/outpost.service").read_text() == UNIT.read_text()
    assert (staged / "etc/systemd/system/multi-user.target.wants/outpost.service").is_symlink()
    assert (staged / "usr/lib/sysusers.d/outpost.conf").is_file()
    assert (staged / "usr/lib/tmpfiles.d/outpost.conf").is_file()


def test_installing_again_keeps_the_technicians_config(staged):
    config = staged / "etc/outpost/station.yaml"
    config.write_text((staged / "etc/outpost/station.yaml.example").read_text() + "# edited on site\n")
    result = install(staged)
    assert "keeping the existing /etc/outpost/station.yaml" in result.stdout
    assert config.read_text().endswith("# edited on site\n")


def test_uninstall_keeps_config_and_data_unless_purged(tmp_path):
    install(tmp_path)
    (tmp_path / "var/lib/outpost/outbox.sqlite3").write_bytes(b"queued alarms")
    install(tmp_path, "--uninstall")
    assert not (tmp_path / "opt/outpost").exists()
    assert not (tmp_path / "etc/systemd/system/outpost.service").exists()
    assert (tmp_path / "etc/outpost/station.yaml.example").is_file()
    assert (tmp_path / "var/lib/outpost/outbox.sqlite3").is_file()
    install(tmp_path, "--uninstall", "--purge")
    assert not (tmp_path / "etc/outpost").exists()
    assert not (tmp_path / "var/lib/outpost").exists()


@needs_systemd_analyze
def test_unit_file_verifies_cleanly(staged, tmp_path):
    # verify checks that ExecStart exists on this machine: point it at the staged program.
    unit = tmp_path / "outpost.service"
    unit.write_text(UNIT.read_text().replace("/opt/outpost", str(staged / "opt/outpost")))
    result = subprocess.run(
        ["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


@needs_systemd_analyze
def test_sandboxing_exposure_is_at_most_2_and_serial_ports_stay_reachable():
    result = subprocess.run(
        ["systemd-analyze", "security", "--offline=yes", str(UNIT)],
        capture_output=True,
        text=True,
        check=False,
    )
    exposure = float(
        re.search(r"Overall exposure level for outpost.service: ([0-9.]+)", result.stdout).group(1)
    )
    assert exposure <= 2.0
    text = UNIT.read_text()
    assert "SupplementaryGroups=dialout" in text
    assert "ReadWritePaths=-/run/lock" in text  # the serial ports' lock files, under ProtectSystem=strict
    assert "DeviceAllow=char-ttyUSB rw" in text
    assert "Type=notify" in text
    assert "WatchdogSec=" in text
