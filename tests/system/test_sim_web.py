"""The web page of ``outpost sim``: its JSON routes in-process, and the page itself in a real
headless Chromium against a real ``outpost sim``, ``outpost run`` and Mosquitto."""

from __future__ import annotations

import asyncio
import json
import signal
import urllib.request
from contextlib import AsyncExitStack
from pathlib import Path

from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as shown
from selenium.webdriver.support.wait import WebDriverWait

from gateway.config import load_config
from gateway.config.paths import example_station
from simulators.station.buses import start_simulated_station
from simulators.station.control_server import start_control_server
from simulators.station.controls import StationControls
from simulators.station.web import start_web
from tests.support.browser import chromium
from tests.support.peers import GatewayProcess
from tests.support.sim_process import start_sim

KITCHEN_GAS = 'tr[data-device="kitchen-gas"] tr[data-point="gas"]'
RAISED = '#alarms li[data-alarm-key$=".kitchen-gas.gas"][data-transition="raised"]'


def _get(url: str) -> tuple[str, bytes]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.headers["Content-Type"], response.read()


async def test_the_page_and_its_json_routes_are_served_beside_the_control_routes(tmp_path):
    config = load_config(example_station())
    async with AsyncExitStack() as stack:
        controls = StationControls(await start_simulated_station(config, stack))
        pages = await start_web(stack, controls, broker=None)
        server = await start_control_server(controls, pages=pages)
        stack.callback(server.close)
        url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        controls.set("kitchen-gas", "gas", 12.5)
        controls.fault("culvert-level", "silent")

        kind, html = await asyncio.to_thread(_get, f"{url}/")
        assert kind.startswith("text/html")
        assert b'id="alarms"' in html
        assert b"http" not in html.replace(b"http-equiv", b"")  # no external assets
        _, body = await asyncio.to_thread(_get, f"{url}/devices")
        devices = {d["name"]: d for d in json.loads(body)["devices"]}
        assert list(devices) == list(config.station.devices)
        assert devices["kitchen-gas"]["points"]["gas"] == 12.5
        assert devices["culvert-level"]["behaviour"] == "silent"
        assert devices["culvert-level"]["faults"] == ["silent", "exception", "normal"]
        _, body = await asyncio.to_thread(_get, f"{url}/alarms")
        assert json.loads(body) == {"subscribed": False, "topic": None, "alarms": []}
        _, body = await asyncio.to_thread(_get, f"{url}/status")  # the control routes are still there
        assert json.loads(body)["devices"]["culvert-level"] == "silent"


def _set_kitchen_gas_and_see_the_alarm(page: str, profile: Path, devices: list[str]) -> None:
    """What a tester does on the page, waiting on the page itself (it polls every second or so)."""
    with chromium(profile) as browser:
        browser.get(page)
        wait = WebDriverWait(browser, 30, ignored_exceptions=[StaleElementReferenceException])
        gas = wait.until(
            shown.visibility_of_element_located((By.CSS_SELECTOR, KITCHEN_GAS)), "no kitchen-gas gas row"
        )
        rows = browser.find_elements(By.CSS_SELECTOR, "#devices > tbody > tr")
        assert [row.get_attribute("data-device") for row in rows] == devices
        wait.until(
            shown.text_to_be_present_in_element((By.ID, "alarm-source"), "Subscribed to"),
            "the page does not say the alarms are subscribed to",
        )

        gas.find_element(By.NAME, "value").send_keys("60")
        gas.find_element(By.XPATH, ".//button[text()='Set']").click()
        wait.until(
            shown.text_to_be_present_in_element((By.ID, "notice"), "kitchen-gas gas -> 60.0"),
            "the Set button's answer is not shown",
        )
        wait.until(
            shown.text_to_be_present_in_element((By.CSS_SELECTOR, f"{KITCHEN_GAS} .value"), "60"),
            "the new value is not shown",
        )
        alarm = wait.until(
            lambda b: b.find_element(By.CSS_SELECTOR, RAISED).text, "the alarm list shows no raised gas alarm"
        )
        assert "second-stage" in alarm


async def _interrupt(process: asyncio.subprocess.Process) -> None:
    """Ctrl-C, as a tester stops it; the alarm subscription must not keep it from exiting cleanly."""
    if process.returncode is None:
        process.send_signal(signal.SIGINT)
    try:
        assert await asyncio.wait_for(process.wait(), 30) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def test_a_value_set_on_the_web_page_raises_the_alarm_the_page_then_lists(tmp_path, mosquitto):
    out = tmp_path / "gateway.yaml"
    process, lines = await start_sim(
        str(example_station()),
        *("--write-config", str(out), "--broker", mosquitto.url, "--state-dir", str(tmp_path / "state")),
        *("--state-file", str(tmp_path / "sim.json")),
    )
    gateway = GatewayProcess(out, tmp_path / "gateway.log")
    async with AsyncExitStack() as stack:
        stack.push_async_callback(_interrupt, process)
        assert "alarms: subscribed to outpost/v1/cs-0427/alarm on " + mosquitto.url in lines
        page = next(line.removeprefix("web page: ") for line in lines if line.startswith("web page: "))
        gateway.start()
        stack.push_async_callback(gateway.stop_async)
        devices = list(load_config(out).station.devices)
        await asyncio.to_thread(_set_kitchen_gas_and_see_the_alarm, page, tmp_path / "chromium", devices)
