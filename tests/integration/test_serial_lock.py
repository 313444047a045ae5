"""A serial port's lock left by a process that is gone is taken over (README, "One master per line").

After a watchdog kill (SIGKILL, SIGABRT) the dead gateway's UUCP lock file
stays in ``/run/lock``; were it honoured, every detector on that line would
stay in bus fault until someone deleted it by hand. The gateway, a methane
detector on a paced pty and a Platform subscriber on a real Mosquitto are all
real; the lock file is the one minicom and picocom read, in the HDB format
(the PID in ten columns and a newline). The gateway has no setting for the
lock directory, so these tests use ``/run/lock`` and remove what they leave.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import yaml

from simulators.devices.serial_sensor import SerialSensorSimulator
from tests.support.line_protocols import METHANE
from tests.support.peers import GatewayProcess, alarm, device_status, wait_for_health
from tests.support.serial_station import serial_station


@contextlib.contextmanager
def lock_file_of(port: str) -> Iterator[Path]:
    """The UUCP lock file of ``port`` (a plugged pty), removed afterwards.

    Only the process holding the pty behind ``port`` (this test) has a claim to
    that name, so removing it at the end takes nothing from anyone else.
    """
    path = Path("/run/lock") / f"LCK..{Path(os.path.realpath(port)).name}"
    try:
        yield path
    finally:
        path.unlink(missing_ok=True)


def holder(lock: Path) -> int:
    """The PID a lock file names, read as minicom reads it."""
    return int(lock.read_text(encoding="ascii").split()[0])


def gone_pid() -> int:
    """The PID of a process that has exited and been reaped: no process has it now."""
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


def healthz(path: Path) -> str:
    """The address of the health report of the gateway that runs the station file at ``path``."""
    return f"http://{yaml.safe_load(path.read_text())['service']['metrics_listen']}/healthz"


def methane_meter_station(
    directory: Path, broker_url: str
) -> tuple[SerialSensorSimulator, Path, GatewayProcess]:
    """A methane detector on a paced pty reading 3.5 %LEL, its station file, and its gateway, not started."""
    simulator = SerialSensorSimulator(METHANE, directory, name="meter", period=0.1)
    simulator.set("gas", 3.5)
    path = serial_station(directory, broker_url, simulator.port)
    return simulator, path, GatewayProcess(path, directory / "gateway.log")


async def meter_ok(url: str) -> None:
    """Wait until the gateway reports the methane detector ``ok`` at ``url``."""
    await wait_for_health(url, lambda h: h["devices"]["meter"]["status"] == "ok")


async def test_a_lock_left_by_a_process_that_is_gone_is_taken_over(tmp_path, mosquitto, platform):
    simulator, path, gateway = methane_meter_station(tmp_path, mosquitto.url)
    async with simulator:
        with lock_file_of(simulator.port) as lock:
            dead = gone_pid()
            lock.write_text(f"{dead:>10}\n", encoding="ascii")
            gateway.start()
            try:
                await meter_ok(healthz(path))
                await platform.wait_for(device_status("meter", "ok"))
                assert gateway.process is not None
                assert holder(lock) == gateway.process.pid  # the lock is the gateway's now
                simulator.set("gas", 35.0)
                raised = await platform.wait_for(alarm(".meter.gas", "raised"), 15)
            finally:
                await gateway.stop_async()
    assert raised.payload["alarm_key"] == "cs-test.meter.gas"
    assert "bus fault" not in gateway.output()  # the port was the gateway's from its start


async def test_a_gateway_killed_while_holding_its_port_takes_it_again_when_restarted(
    tmp_path, mosquitto, platform
):
    simulator, path, gateway = methane_meter_station(tmp_path, mosquitto.url)
    async with simulator:
        with lock_file_of(simulator.port) as lock:
            gateway.start()
            try:
                await meter_ok(healthz(path))
                assert gateway.process is not None
                killed = gateway.process.pid
                await gateway.stop_async(signal.SIGKILL)  # as the watchdog does; reaped, as systemd does
                assert holder(lock) == killed  # its lock outlives it
                restarted = len(platform.messages)
                gateway.start()  # the same config, no one cleaning up in between
                await meter_ok(healthz(path))
                assert holder(lock) == gateway.process.pid
                simulator.set("gas", 35.0)
                raised = await platform.wait_for(alarm(".meter.gas", "raised"), 15, after=restarted)
            finally:
                await gateway.stop_async()
    assert raised.payload["alarm_key"] == "cs-test.meter.gas"
    assert "bus fault" not in gateway.output()
