"""The one message catalogue: every sentence people read, in English and in Chinese.

A typed catalogue rather than gettext ``.po`` files: each entry holds both
languages side by side, so an entry cannot be written without its
translation (both fields are required, and a unit test checks each key used
in the code exists and that both texts take the same ``{fields}``). There is
no compile step and no ``.mo`` file to forget in the wheel a Pi installs, and
a missing key is a ``KeyError`` in the tests, never English silently shown
to a Chinese reader. Only sentences live here: device names, locations and
structured fields (levels, states, keys) pass through as written.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

Locale = Literal["en", "zh-CN"]
LOCALES: tuple[Locale, ...] = get_args(Locale)


@dataclass(frozen=True, slots=True)
class Text:
    en: str
    zh: str

    def get(self, locale: Locale) -> str:
        return self.zh if locale == "zh-CN" else self.en


CATALOGUE: dict[str, Text] = {
    # -- the station page --------------------------------------------------------------
    "page.title": Text("{station}: station page", "{station}：站点页面"),
    "page.updated": Text("as of {time}", "更新于 {time}"),
    "page.devices": Text("Devices", "设备"),
    "page.alarms": Text("Alarms", "报警"),
    "page.active": Text("Active", "活动报警"),
    "page.cleared_unack": Text("Cleared, not yet acknowledged", "已恢复，待确认"),
    "page.no_alarms": Text("No alarms. All clear.", "无报警，一切正常。"),
    "page.device": Text("Device", "设备"),
    "page.location": Text("Location", "位置"),
    "page.values": Text("Values", "读数"),
    "page.health": Text("Health", "状态"),
    "page.last_seen": Text("Last seen", "最近通信"),
    "page.seconds_ago": Text("{seconds} s ago", "{seconds} 秒前"),
    "page.never": Text("never", "从未"),
    "page.trend": Text("Trend, last {hours} h", "趋势（最近 {hours} 小时）"),
    "page.no_trend": Text("no readings yet", "尚无读数"),
    "page.threshold": Text("threshold", "阈值"),
    "page.grade": Text("Grade", "级别"),
    "page.state": Text("State", "状态"),
    "page.since": Text("Since", "开始时间"),
    "page.value": Text("Value", "数值"),
    "page.message": Text("Message", "说明"),
    "page.actions": Text("Actions", "操作"),
    "page.ack": Text("Acknowledge", "确认"),
    "page.shelve": Text("Shelve 30 min", "搁置 30 分钟"),
    "page.reset": Text("Reset", "复位"),
    "page.operator": Text("Operator", "操作员"),
    "page.operator_key": Text("Operator key", "操作员密钥"),
    "page.read_only": Text(
        "Read-only: no operator key is configured at this station (service.page.operator_key_file).",
        "只读：本站未配置操作员密钥（service.page.operator_key_file）。",
    ),
    "page.operate_hint": Text(
        "Type the operator key, then press an action on an alarm.", "输入操作员密钥，然后点击报警的操作按钮。"
    ),
    "page.station": Text("Station", "站点"),
    "page.bus": Text("Bus", "总线"),
    "page.bus_devices": Text("{ok} of {total} devices answering normally", "{total} 台设备中 {ok} 台正常"),
    "page.radios": Text("Radio bridges", "电台网关"),
    "page.connected": Text("connected", "已连接"),
    "page.disconnected": Text("disconnected", "未连接"),
    "page.uplink": Text("Uplink to the platform", "平台上行链路"),
    "page.backlog": Text("{count} message(s) waiting", "{count} 条消息待发送"),
    "page.time_quality": Text("Clock", "时钟"),
    "page.exercise": Text("Exercise mode: events are marked as a drill.", "演练模式：事件标记为演练。"),
    "page.fault_badge": Text("FAULT", "故障"),
    "page.refused": Text("Refused: {reason}", "已拒绝：{reason}"),
    "page.done": Text("{action} {alarm}: done", "{action} {alarm}：已完成"),
    "page.bad_key": Text("wrong operator key", "操作员密钥错误"),
    "page.no_command_key": Text(
        "the station has no command key (commands.key_file)", "本站未配置命令密钥（commands.key_file）"
    ),
    "page.walktest": Text("Walk test", "巡检测试"),
    "page.language": Text("中文", "English"),
    # -- words for the language-neutral fields ------------------------------------------
    "grade.fault": Text("fault", "故障"),
    "grade.first-stage": Text("first stage", "一级报警"),
    "grade.second-stage": Text("second stage", "二级报警"),
    "grade.life-safety": Text("life safety", "生命安全"),
    "state.active_unack": Text("active, unacknowledged", "报警中，未确认"),
    "state.active_ack": Text("active, acknowledged", "报警中，已确认"),
    "state.cleared_unack": Text("cleared, unacknowledged", "已恢复，未确认"),
    "state.cleared": Text("cleared", "已恢复"),
    "state.shelved": Text("shelved", "已搁置"),
    "health.ok": Text("ok", "正常"),
    "health.degraded": Text("degraded", "部分异常"),
    "health.fault": Text("fault", "故障"),
    "health.offline": Text("offline", "离线"),
    "health.unknown": Text("not yet polled", "尚未轮询"),
    "time.synchronized": Text("synchronised", "已同步"),
    "time.unsynchronized": Text("NOT synchronised", "未同步"),
    "time.unknown": Text("unknown", "未知"),
}


class Translator:
    """The catalogue in one language: ``t("page.backlog", count=3)``."""

    def __init__(self, locale: Locale = "en") -> None:
        self.locale = locale

    def __call__(self, key: str, /, **fields: object) -> str:
        text = CATALOGUE[key].get(self.locale)
        return text.format(**fields) if fields else text

    def word(self, group: str, value: str) -> str:
        """A structured field's value in words (``grade``, ``state``, ``health``), or as written."""
        entry = CATALOGUE.get(f"{group}.{value}")
        return entry.get(self.locale) if entry is not None else value
