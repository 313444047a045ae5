"""The station page of ``outpost run`` in a real headless Chromium, against ``outpost sim``, the
gateway and Mosquitto: a set gas value on its trend, the raised alarm, an ack from the page reaching
the platform, a walk test marking a detector tested, the page in Chinese, and the page with scripts
turned off."""

from __future__ import annotations

import asyncio
import signal
import subprocess
from contextlib import AsyncExitStack
from pathlib import Path

import yaml
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as shown
from selenium.webdriver.support.wait import WebDriverWait

from gateway.config.paths import example_station
from tests.support.browser import chromium, full_page_screenshot
from tests.support.peers import GatewayProcess, Platform, alarm, device_status, free_port
from tests.support.sim_process import sim, start_sim

OPERATOR_KEY = "kitchen-duty-4471"
GAS_ALARM = '#alarms-active tr[data-alarm-key$=".kitchen-gas.gas"]'
GAS_POINT = 'tr[data-device="kitchen-gas"] div[data-point="gas"]'
BOILER_WALK = '#walk tr[data-device="boiler-gas"]'


def _with_page(written: Path, tmp_path: Path) -> str:
    """The file ``outpost sim`` wrote, with the page on a free port and operator and command keys."""
    (tmp_path / "operator.key").write_text(OPERATOR_KEY + "\n")
    (tmp_path / "command.key").write_text("5f" * 32 + "\n")
    data = yaml.safe_load(written.read_text())
    listen = f"127.0.0.1:{free_port()}"
    data["service"] = {
        **data.get("service", {}),
        "metrics_listen": listen,
        "page": {"operator_key_file": str(tmp_path / "operator.key")},
    }
    data["commands"] = {"key_file": str(tmp_path / "command.key")}
    written.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    return f"http://{listen}/"


def _see_the_gas_alarm_and_acknowledge_it(page: str, profile: Path, shots: Path) -> None:
    with chromium(profile) as browser:
        browser.get(page + "?lang=en")
        wait = WebDriverWait(browser, 30, ignored_exceptions=[StaleElementReferenceException])
        row = wait.until(
            shown.presence_of_element_located((By.CSS_SELECTOR, GAS_ALARM)), "no active gas alarm listed"
        )
        assert "second stage" in row.text
        assert "Kitchen, ground floor" in row.text
        assert "/ threshold 50" in row.text  # the value against the threshold of its grade
        wait.until(
            lambda b: (
                b.find_element(By.CSS_SELECTOR, f"{GAS_POINT} circle.latest").get_attribute("data-value")
                == "60.0"
            ),
            "the trend does not end at the set value",
        )
        lines = browser.find_elements(By.CSS_SELECTOR, f"{GAS_POINT} line.threshold")
        assert sorted(float(line.get_attribute("data-at") or "") for line in lines) == [20.0, 50.0]
        full_page_screenshot(browser, shots / "station-page-en.png")

        _operate(browser, f"ack|{row.get_attribute('data-alarm-key')}")
        wait.until(
            shown.text_to_be_present_in_element((By.ID, "notices"), "Acknowledge"),
            "the page does not say what became of the acknowledgement",
        )
        assert "done" in browser.find_element(By.ID, "notices").text


def _operate(browser, action: str) -> None:
    """Type the operator's name and key into the page's form, then press the button ``action``."""
    browser.find_element(By.NAME, "operator").send_keys("Wang")
    browser.find_element(By.NAME, "key").send_keys(OPERATOR_KEY)
    browser.find_element(By.CSS_SELECTOR, f"button[value='{action}']").click()


def _start_the_walk_test(page: str, profile: Path) -> None:
    with chromium(profile) as browser:
        browser.get(page + "?lang=en")
        _operate(browser, "walktest|on")
        wait = WebDriverWait(browser, 30, ignored_exceptions=[StaleElementReferenceException])
        row = wait.until(shown.presence_of_element_located((By.CSS_SELECTOR, BOILER_WALK)))
        assert row.get_attribute("data-walk") == "waiting"
        assert "Walk test started" in browser.find_element(By.ID, "notices").text


def _see_the_boiler_detector_tested_then_end_the_walk_test(page: str, profile: Path, shots: Path) -> None:
    with chromium(profile) as browser:
        browser.get(page + "?lang=en")
        wait = WebDriverWait(browser, 30, ignored_exceptions=[StaleElementReferenceException])
        wait.until(  # the live part updates itself: no reload
            lambda b: b.find_element(By.CSS_SELECTOR, BOILER_WALK).get_attribute("data-walk") == "tested",
            "the boiler's gas detector is not marked tested after its alarm left the station",
        )
        row = browser.find_element(By.CSS_SELECTOR, BOILER_WALK)
        assert "tested" in row.text
        assert "20" in row.text  # the value its alarm carried
        waiting = browser.find_elements(By.CSS_SELECTOR, '#walk tr[data-walk="waiting"]')
        assert "boiler-gas" not in [w.get_attribute("data-device") for w in waiting]
        assert "kitchen-gas" in [w.get_attribute("data-device") for w in waiting]  # alarmed before the test
        full_page_screenshot(browser, shots / "station-page-walktest-en.png")
        _operate(browser, "walktest|off")
        wait.until(shown.text_to_be_present_in_element((By.ID, "notices"), "Walk test ended"))
        assert not browser.find_elements(By.ID, "walk")


def _the_page_in_chinese(page: str, profile: Path, shots: Path) -> None:
    with chromium(profile) as browser:
        browser.get(page + "?lang=zh-CN")
        wait = WebDriverWait(browser, 30, ignored_exceptions=[StaleElementReferenceException])
        row = wait.until(shown.presence_of_element_located((By.CSS_SELECTOR, GAS_ALARM)))
        assert "二级报警" in row.text
        assert browser.find_element(By.CSS_SELECTOR, "html").get_attribute("lang") == "zh-CN"
        assert "设备" in browser.find_element(By.ID, "devices").text
        full_page_screenshot(browser, shots / "station-page-zh-CN.png")


def _the_page_without_scripts(page: str, profile: Path, devices: list[str]) -> None:
    with chromium(profile, scripts=False) as browser:
        browser.get(page)
        rows = browser.find_elements(By.CSS_SELECTOR, "#devices > tbody > tr")
        assert [row.get_attribute("data-device") for row in rows] == devices
        assert browser.find_elements(By.CSS_SELECTOR, GAS_ALARM)
        assert browser.find_elements(By.CSS_SELECTOR, f"{GAS_POINT} svg.trend polyline")


async def _interrupt(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        process.send_signal(signal.SIGINT)
    try:
        await asyncio.wait_for(process.wait(), 30)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def test_the_station_page_shows_values_and_alarms_and_acknowledges_through_the_platform_path(
    tmp_path, mosquitto
):
    fonts = (
        await asyncio.to_thread(subprocess.run, ["fc-list", ":lang=zh"], capture_output=True, text=True)
    ).stdout
    assert fonts.strip(), "no Chinese font: run scripts/install-peers (fonts-noto-cjk)"
    out, control = tmp_path / "gateway.yaml", ("--state-file", str(tmp_path / "sim.json"))
    process, _ = await start_sim(
        str(example_station()),
        *("--write-config", str(out), "--broker", mosquitto.url, "--state-dir", str(tmp_path / "state")),
        *control,
    )
    page = _with_page(out, tmp_path)
    platform = Platform(mosquitto.url, "outpost/v1/cs-0427/#")
    gateway = GatewayProcess(out, tmp_path / "gateway.log")
    shots = tmp_path / "screenshots"
    shots.mkdir()
    async with AsyncExitStack() as stack:
        stack.push_async_callback(_interrupt, process)
        await platform.start()
        stack.push_async_callback(platform.stop)
        gateway.start()
        stack.push_async_callback(gateway.stop_async)
        await platform.wait_for(device_status("kitchen-gas", "ok"), timeout=30)
        assert (await sim("set", "kitchen-gas", "gas", "60", *control)).returncode == 0
        await platform.wait_for(alarm(".kitchen-gas.gas", "raised"), timeout=15)

        await asyncio.to_thread(_the_page_in_chinese, page, tmp_path / "zh", shots)
        devices = list(yaml.safe_load(out.read_text())["devices"])
        await asyncio.to_thread(_the_page_without_scripts, page, tmp_path / "plain", devices)
        await asyncio.to_thread(_start_the_walk_test, page, tmp_path / "walk")
        assert (await sim("set", "boiler-gas", "gas", "20", *control)).returncode == 0
        await platform.wait_for(alarm(".boiler-gas.gas", "raised"), timeout=15)
        await asyncio.to_thread(
            _see_the_boiler_detector_tested_then_end_the_walk_test, page, tmp_path / "walk", shots
        )
        await asyncio.to_thread(_see_the_gas_alarm_and_acknowledge_it, page, tmp_path / "en", shots)

        acknowledged = await platform.wait_for(alarm(".kitchen-gas.gas", "acknowledged"), timeout=15)
        assert acknowledged.payload["acknowledged_by"] == "station page (Wang)"
        result = await platform.wait_for(lambda m: m.topic.endswith("/cmd/result"), timeout=15)
        assert (result.payload["command"], result.payload["ok"]) == ("ack", True)
    assert "rejected" not in gateway.output()
    for shot in shots.iterdir():
        assert shot.stat().st_size > 20_000, f"{shot.name} looks empty"
