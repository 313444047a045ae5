"""The .deb a technician installs: built by scripts/build-deb, installed by the real dpkg.

Each test installs into a scratch root (``dpkg --root``); dpkg runs the maintainer scripts
there with ``DPKG_ROOT`` set (``--force-script-chrootless``) and without the Debian base
system the package depends on (``--force-depends``).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from gateway import __version__
from tests.support.peers import REPO

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("dpkg-deb") is None, reason="dpkg is not installed"),
]

ARCH = subprocess.run(
    ["dpkg", "--print-architecture"], capture_output=True, text=True, check=True
).stdout.strip()
NEWER = __version__ + ".1"
VENV = "opt/outpost/venv"


def run(*args: str | Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [str(a) for a in args],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
        env=None if env is None else {**os.environ, **env},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result


@pytest.fixture(scope="module")
def deb(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    run(REPO / "scripts" / "build-deb", env={"DEB_OUT": str(out)})
    return out / f"outpost_{__version__}_{ARCH}.deb"


@pytest.fixture(scope="module")
def newer_deb(deb, tmp_path_factory) -> Path:
    """The same package as a later version, as the next release would install."""
    work = tmp_path_factory.mktemp("newer")
    tree = work / "tree"
    run("dpkg-deb", "-R", deb, tree)
    for file, old, new in [
        ("DEBIAN/control", f"Version: {__version__}", f"Version: {NEWER}"),
        ("DEBIAN/postinst", f"version={__version__}", f"version={NEWER}"),
        (f"{VENV}/lib/python3.11/site-packages/gateway/__init__.py", __version__, NEWER),
    ]:
        path = tree / file
        path.write_text(path.read_text().replace(old, new))
    out = work / f"outpost_{NEWER}_{ARCH}.deb"
    run("dpkg-deb", "--root-owner-group", "-Zgzip", "--build", tree, out)
    return out


def scratch_root(path: Path) -> Path:
    for directory in ("info", "updates", "triggers"):
        (path / "var/lib/dpkg" / directory).mkdir(parents=True)
    for file in ("status", "available"):
        (path / "var/lib/dpkg" / file).touch()
    return path


DPKG_FORCE = {"DPKG_FORCE": "script-chrootless,depends"}


def dpkg(root: Path, *args: str | Path) -> str:
    result = run("dpkg", f"--root={root}", "--log=/dev/null", *args, env=DPKG_FORCE)
    return result.stdout


def installed_version(root: Path) -> str:
    return run("dpkg-query", f"--root={root}", "-W", "-f=${Version}", "outpost").stdout


def outpost(root: Path, *args: str | Path) -> subprocess.CompletedProcess:
    """The installed program, through its own venv interpreter (its #! names /opt/outpost)."""
    return subprocess.run(
        [str(root / VENV / "bin/python3"), str(root / VENV / "bin/outpost"), *map(str, args)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


@pytest.fixture
def installed(deb, tmp_path) -> tuple[Path, str]:
    root = scratch_root(tmp_path / "root")
    return root, dpkg(root, "-i", deb)


def test_package_names_its_architecture_dependencies_and_contents(deb):
    info = run("dpkg-deb", "-I", deb).stdout
    assert f"Architecture: {ARCH}" in info
    assert re.search(r"Depends: python3 \(>= 3\.11\), python3 \(<< 3\.12\)", info)
    contents = run("dpkg-deb", "-c", deb).stdout
    assert "./usr/bin/outpost -> /opt/outpost/venv/bin/outpost" in contents
    for path in [
        "./lib/systemd/system/outpost.service",
        "./usr/lib/sysusers.d/outpost.conf",
        "./usr/lib/tmpfiles.d/outpost.conf",
        "./etc/outpost/station.yaml.example",
        "./etc/outpost/outpost.env",
        "./usr/share/man/man1/outpost.1.gz",
        "./usr/share/bash-completion/completions/outpost",
        "/site-packages/pydantic_core/",
    ]:
        assert path in contents
    assert "./etc/outpost/station.yaml\n" not in contents
    assert "__pycache__" not in contents
    conffiles = run("dpkg-deb", "--info", deb, "conffiles").stdout.split()
    assert conffiles == ["/etc/outpost/outpost.env", "/etc/outpost/station.yaml.example"]


def test_install_enables_the_unit_without_a_config_and_says_what_next(installed):
    root, output = installed
    assert installed_version(root) == __version__
    assert "sudo cp /etc/outpost/station.yaml.example /etc/outpost/station.yaml" in output
    assert "sudo outpost check /etc/outpost/station.yaml" in output
    assert "sudo systemctl start outpost" in output
    assert "journalctl -u outpost -f" in output
    assert not (root / "etc/outpost/station.yaml").exists()
    assert (root / "etc/systemd/system/multi-user.target.wants/outpost.service").is_symlink()
    unit = (root / "lib/systemd/system/outpost.service").read_text()
    assert unit == (REPO / "systemd/outpost.service").read_text()
    assert "ConditionPathExists=/etc/outpost/station.yaml" in unit
    assert "EnvironmentFile=-/etc/outpost/outpost.env" in unit
    assert re.search(r"^outpost:x:\d+:\d+:", (root / "etc/passwd").read_text(), re.MULTILINE)
    assert (root / "var/lib/outpost").is_dir()
    assert os.readlink(root / "usr/bin/outpost") == "/opt/outpost/venv/bin/outpost"


def test_installed_program_runs_offline_from_its_own_venv(installed):
    root, _ = installed
    assert outpost(root, "--version").stdout.strip() == f"outpost {__version__}"
    check = outpost(root, "check", root / "etc/outpost/station.yaml.example")
    assert check.returncode == 0, check.stderr
    assert "configuration is valid" in check.stdout
    # Bytecode compiled at install: /opt is read-only to the sandboxed service.
    assert list((root / VENV / "lib").rglob("gateway/__pycache__/cli.*.pyc"))


def test_man_page_and_completion_come_from_the_parser(installed):
    root, _ = installed
    rendered = run("man", "-l", "-Tutf8", root / "usr/share/man/man1/outpost.1.gz").stdout
    page = re.sub(".\x08", "", rendered)  # without the overstrike that makes bold
    for command in ("run", "check", "status", "rollback"):
        assert re.search(rf"outpost {command}\b", page), command
    completion = root / "usr/share/bash-completion/completions/outpost"
    complete = 'COMP_WORDS=(outpost ch); COMP_CWORD=1; _shtab_outpost; echo "${COMPREPLY[@]}"'
    words = run("bash", "-c", f"source {completion}; {complete}").stdout.split()
    assert "check" in words


def test_upgrade_keeps_edited_conffiles_config_and_state_and_restarts_only_when_valid(installed, newer_deb):
    root, _ = installed
    env_file = root / "etc/outpost/outpost.env"
    env_file.write_text(env_file.read_text() + "OUTPOST_MQTT_PASSWORD=on-site\n")
    config = root / "etc/outpost/station.yaml"
    shutil.copy(root / "etc/outpost/station.yaml.example", config)
    outbox = root / "var/lib/outpost/outbox.sqlite3"
    outbox.write_bytes(b"queued alarms")

    output = dpkg(root, "-i", newer_deb)

    assert installed_version(root) == NEWER
    assert f"valid for outpost {NEWER}" in output
    assert env_file.read_text().endswith("OUTPOST_MQTT_PASSWORD=on-site\n")
    assert config.read_bytes() == (root / "etc/outpost/station.yaml.example").read_bytes()
    assert outbox.read_bytes() == b"queued alarms"
    assert outpost(root, "--version").stdout.strip() == f"outpost {NEWER}"


def test_config_the_new_version_rejects_keeps_the_old_running_and_rollback_restores_it(installed, newer_deb):
    root, _ = installed
    (root / "etc/outpost/station.yaml").write_text("station: {id: Not Valid}\n")
    outbox = root / "var/lib/outpost/outbox.sqlite3"
    outbox.write_bytes(b"queued alarms")

    output = dpkg(root, "-i", newer_deb)
    assert f"is not valid for outpost {NEWER}" in output
    assert f"not restarted: the running outpost {__version__} goes on" in output
    assert "outpost rollback" in output

    result = subprocess.run(
        [str(root / VENV / "bin/python3"), "-m", "gateway.cli", "rollback", "--root", str(root)],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
        env={**os.environ, **DPKG_FORCE},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert installed_version(root) == __version__
    assert outpost(root, "--version").stdout.strip() == f"outpost {__version__}"
    assert outbox.read_bytes() == b"queued alarms"
    # The version rolled back from is kept in turn: rolling back again goes forward.
    assert f"Version: {NEWER}" in (root / "opt/outpost/previous/package/DEBIAN/control").read_text()


def test_remove_keeps_config_and_state_purge_removes_them(installed):
    root, _ = installed
    (root / "var/lib/outpost/outbox.sqlite3").write_bytes(b"queued alarms")
    dpkg(root, "--remove", "outpost")
    assert not (root / VENV).exists()
    assert (root / "etc/outpost/station.yaml.example").is_file()
    assert (root / "var/lib/outpost/outbox.sqlite3").is_file()
    dpkg(root, "--purge", "outpost")
    assert not (root / "etc/outpost").exists()
    assert not (root / "var/lib/outpost").exists()


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_installed_unit_verifies_cleanly(installed, tmp_path):
    root, _ = installed
    unit = tmp_path / "outpost.service"
    text = (root / "lib/systemd/system/outpost.service").read_text()
    unit.write_text(text.replace("/opt/outpost", str(root / "opt/outpost")))
    result = subprocess.run(
        ["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


@pytest.mark.skipif(shutil.which("lintian") is None, reason="lintian is not installed")
def test_lintian_is_clean_with_the_justified_overrides(deb):
    result = subprocess.run(["lintian", str(deb)], capture_output=True, text=True, check=False, timeout=600)
    assert result.returncode == 0, result.stdout
