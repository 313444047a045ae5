"""The page's HTML, rendered on the server: complete without scripts, in the station's language.

The live part (``<main id="live">``) is also served alone (``?part=live``);
the page's small script fetches it every few seconds and swaps it in. The
operator form sits outside it, so a key being typed survives an update.
Everything from configuration or devices is escaped; nothing is fetched from
elsewhere (a station may be offline).
"""

from __future__ import annotations

from datetime import datetime
from html import escape
from importlib import resources

from gateway.i18n import Translator
from gateway.station_page.chart import trend_svg
from gateway.station_page.state import AlarmView, DeviceView, PageState, PointView, WalkRow

REFRESH_SECONDS = 15  # without scripts, the whole page reloads this often


def _asset(name: str) -> str:
    return resources.files("gateway.station_page").joinpath(name).read_text(encoding="utf-8")


def _value(value: float | bool | None, unit: str | None) -> str:
    if value is None:
        return "–"
    text = f"{value:.4g}" if isinstance(value, float) else str(value)
    return f"{text}\u2009{escape(unit)}" if unit else text


def _clock(moment: datetime, now: datetime) -> str:
    """Time of day for today, with the date otherwise."""
    return moment.strftime("%H:%M:%S" if moment.date() == now.date() else "%Y-%m-%d %H:%M")


def page(state: PageState, t: Translator, *, operate: bool, notices: list[str]) -> str:
    lang = t.locale
    other = "zh-CN" if lang == "en" else "en"
    title = t("page.title", station=state.station_name)
    form = (
        f'<form id="act" method="post" action="/action?lang={lang}" class="operate">'
        f'<label>{t("page.operator")} <input name="operator" autocomplete="username" maxlength="40"></label> '
        f'<label>{t("page.operator_key")} <input name="key" type="password" '
        f'autocomplete="current-password" maxlength="200"></label>'
        f'<span class="hint">{t("page.operate_hint")}</span></form>'
        if operate
        else f'<p id="read-only" class="operate">{t("page.read_only")}</p>'
    )
    shown_notices = "".join(f"<li>{escape(n)}</li>" for n in notices)
    return (
        f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title>"
        f'<noscript><meta http-equiv="refresh" content="{REFRESH_SECONDS}"></noscript>'
        f"<style>{_asset('station.css')}</style></head><body>"
        f'<header><h1>{escape(state.station_name)} <span class="id">{escape(state.station_id)}</span></h1>'
        f'<p class="where">{escape(state.station_location)}</p>'
        f'<a class="lang" href="/?lang={other}" hreflang="{other}">{t("page.language")}</a></header>'
        f'{form}<ul id="notices">{shown_notices}</ul>'
        f'<main id="live" data-refresh="/?part=live&amp;lang={lang}">{live(state, t, operate=operate)}</main>'
        f"<script>{_asset('station.js')}</script></body></html>"
    )


def live(state: PageState, t: Translator, *, operate: bool) -> str:
    """What changes: status, alarms, devices."""
    return (
        f'<p class="updated">{t("page.updated", time=state.now.strftime("%Y-%m-%d %H:%M:%S %Z"))}</p>'
        + _status(state, t)
        + _walk(state, t, operate=operate)
        + _alarms(state, t, operate=operate)
        + _devices(state, t)
    )


def _status(state: PageState, t: Translator) -> str:
    uplink = "ok" if state.uplink_connected else "bad"
    clock = "ok" if state.time_quality == "synchronized" else "bad"
    items = [
        f'<li class="{uplink}" id="uplink">{t("page.uplink")}: '
        f"{t('page.connected' if state.uplink_connected else 'page.disconnected')}, "
        f"{t('page.backlog', count=state.backlog)}</li>",
        f'<li class="{clock}">{t("page.time_quality")}: {t.word("time", state.time_quality)}</li>',
    ]
    for bus in state.buses:
        status = bus.status.value if bus.status is not None else "unknown"
        items.append(
            f'<li class="{"ok" if status == "ok" else "bad"}" data-bus="{escape(bus.bus)}">'
            f"{t('page.bus')} {escape(bus.bus)}: {t.word('health', status)}, "
            f"{t('page.bus_devices', ok=bus.devices_ok, total=bus.devices)}</li>"
        )
    for name, connected in state.radios.items():
        items.append(
            f'<li class="{"ok" if connected else "bad"}">{t("page.radios")} {escape(name)}: '
            f"{t('page.connected' if connected else 'page.disconnected')}</li>"
        )
    exercise = f'<p class="exercise">{t("page.exercise")}</p>' if state.exercise else ""
    return f'<section id="status"><ul>{"".join(items)}</ul>{exercise}</section>'


def _walk(state: PageState, t: Translator, *, operate: bool) -> str:
    """Walk-test mode: every device, waiting or tested; the operator's button to start or end it."""
    on = state.walk is not None
    button = (
        f'<button form="act" name="action" value="walktest|{"off" if on else "on"}">'
        f"{t('page.walk_stop' if on else 'page.walk_start')}</button>"
        if operate
        else ""
    )
    if state.walk is None:
        return f'<section id="walktest" class="off">{button}</section>' if operate else ""
    tested = sum(1 for row in state.walk if row.reached_at is not None)
    head = "".join(
        f"<th>{t(k)}</th>"
        for k in ("page.device", "page.walk_result", "page.walk_at", "page.value", "page.walk_latency")
    )
    rows = "".join(_walk_row(row, t) for row in state.walk)
    return (
        f'<section id="walktest" class="on"><h2>{t("page.walktest")}: '
        f"{t('page.walk_progress', count=tested, total=len(state.walk))}</h2>"
        f'<p class="hint">{t("page.walk_hint")}</p>{button}'
        f'<table id="walk"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table></section>'
    )


def _walk_row(row: WalkRow, t: Translator) -> str:
    tested = row.reached_at is not None
    latency = t("walk.seconds", seconds=f"{row.latency:.1f}") if row.latency is not None else "–"
    return (
        f'<tr data-device="{escape(row.device)}" data-walk="{"tested" if tested else "waiting"}" '
        f'class="{"ok" if tested else "waiting"}">'
        f'<td><b>{escape(row.device)}</b><br><span class="where">{escape(row.location)}</span></td>'
        f'<td class="result">{t("page.walk_tested" if tested else "page.walk_waiting")}</td>'
        f"<td>{row.reached_at.strftime('%H:%M:%S') if row.reached_at else '–'}</td>"
        f"<td>{_value(row.value, row.unit)}</td><td>{latency}</td></tr>"
    )


def _alarms(state: PageState, t: Translator, *, operate: bool) -> str:
    active = [a for a in state.alarms if a.active]
    cleared = [a for a in state.alarms if not a.active]
    if not state.alarms:
        body = f'<p class="all-clear">{t("page.no_alarms")}</p>'
    else:
        body = _alarm_table("active", t("page.active"), active, state, t, operate=operate) + _alarm_table(
            "cleared", t("page.cleared_unack"), cleared, state, t, operate=operate
        )
    return f'<section id="alarms"><h2>{t("page.alarms")} ({len(active)})</h2>{body}</section>'


def _alarm_table(
    name: str, caption: str, alarms: list[AlarmView], state: PageState, t: Translator, *, operate: bool
) -> str:
    if not alarms:
        return ""
    head = "".join(
        f"<th>{t(k)}</th>"
        for k in ("page.grade", "page.device", "page.since", "page.value", "page.state", "page.message")
    )
    actions = f"<th>{t('page.actions')}</th>" if operate else ""
    rows = "".join(_alarm_row(a, state, t, operate=operate) for a in alarms)
    return (
        f'<table class="alarms" id="alarms-{name}"><caption>{caption}</caption>'
        f"<thead><tr>{head}{actions}</tr></thead><tbody>{rows}</tbody></table>"
    )


def _alarm_row(view: AlarmView, state: PageState, t: Translator, *, operate: bool) -> str:
    alarm = view.alarm
    grade = alarm.grade.value
    kind = "fault" if grade == "fault" else "alarm"
    value = _value(view.value, view.unit)
    if view.threshold is not None:
        value += f' <span class="of">/ {t("page.threshold")} {_value(view.threshold, view.unit)}</span>'
    state_words = t.word("state", alarm.state.value)
    if alarm.shelved:
        state_words += f", {t('state.shelved')}"
    key = escape(alarm.alarm_key)
    buttons = ""
    if operate:
        buttons = (
            "<td class='actions'>"
            + "".join(
                f'<button form="act" name="action" value="{verb}|{key}">{t(label)}</button>'
                for verb, label in (("ack", "page.ack"), ("shelve", "page.shelve"), ("reset", "page.reset"))
            )
            + "</td>"
        )
    return (
        f'<tr class="{kind} level-{alarm.level.value} grade-{grade}" data-alarm-key="{key}" '
        f'data-state="{alarm.state.value}">'
        f'<td class="grade"><span class="badge">{t.word("grade", grade)}</span></td>'
        f'<td><b>{escape(alarm.device)}</b><br><span class="where">{escape(alarm.location)}</span></td>'
        f"<td>{_clock(alarm.raised_at.astimezone(state.zone), state.now)}</td>"
        f'<td class="value">{value}</td><td>{state_words}</td>'
        f'<td class="message">{escape(alarm.message)}</td>{buttons}</tr>'
    )


def _devices(state: PageState, t: Translator) -> str:
    head = "".join(
        f"<th>{t(k)}</th>" for k in ("page.device", "page.health", "page.last_seen", "page.values")
    )
    rows = "".join(_device_row(d, state, t) for d in state.devices)
    return (
        f'<section><h2>{t("page.devices")}</h2><table id="devices">'
        f"<thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table></section>"
    )


def _device_row(device: DeviceView, state: PageState, t: Translator) -> str:
    seen = (
        t("page.never")
        if device.seen_ago is None
        else t("page.seconds_ago", seconds=f"{device.seen_ago:.0f}")
    )
    health = t.word("health", device.health)
    if device.health in ("fault", "offline", "degraded"):
        health = f'<span class="fault-badge">{t("page.fault_badge")}</span> {health}'
    reason = f'<br><span class="reason">{escape(device.reason)}</span>' if device.reason else ""
    points = "".join(_point(p, state, t) for p in device.points)
    return (
        f'<tr data-device="{escape(device.name)}" class="health-{device.health}">'
        f'<td><b>{escape(device.name)}</b><br><span class="where">{escape(device.location)}</span>'
        f'<br><span class="bus">{escape(device.bus)}</span></td>'
        f'<td class="health">{health}{reason}</td><td class="seen">{seen}</td>'
        f'<td class="points">{points}</td></tr>'
    )


def _point(point: PointView, state: PageState, t: Translator) -> str:
    """A value with thresholds gets its trend; a diagnostic value (supply voltage, hours run) a line."""
    if not point.thresholds:
        return (
            f'<div class="point minor" data-point="{escape(point.name)}">'
            f'<span class="name">{escape(point.name)}</span> '
            f'<span class="value">{_value(point.value, point.unit)}</span></div>'
        )
    chart = trend_svg(
        point,
        state.now.timestamp(),
        state.trend_hours,
        t("page.trend", hours=f"{state.trend_hours:g}") + f": {point.name}",
        t("page.no_trend"),
    )
    return (
        f'<div class="point" data-point="{escape(point.name)}">'
        f'<span class="name">{escape(point.name)}</span> '
        f'<span class="value">{_value(point.value, point.unit)}</span>{chart}</div>'
    )
