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
from datetime import datetime, tzinfo
from typing import Literal, get_args
from zoneinfo import ZoneInfo

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
    "page.walk_start": Text("Start walk test", "开始巡检测试"),
    "page.walk_stop": Text("End walk test", "结束巡检测试"),
    "page.walk_started": Text(
        "Walk test started: trigger each detector and button in turn",
        "巡检测试已开始：请逐一触发每个探测器和按钮",
    ),
    "page.walk_ended": Text("Walk test ended", "巡检测试已结束"),
    "page.walk_hint": Text(
        "A device is tested once its alarm has left the station for the platform (the broker has it).",
        "设备的报警离开本站发往平台（消息服务器已收到）后，即视为测试通过。",
    ),
    "page.walk_progress": Text("{count} of {total} devices tested", "{total} 台设备中 {count} 台已测试"),
    "page.walk_tested": Text("tested", "已测试"),
    "page.walk_waiting": Text("waiting", "等待中"),
    "page.walk_result": Text("Result", "结果"),
    "page.walk_at": Text("Reached at", "到达时间"),
    "page.walk_latency": Text("Latency", "延迟"),
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
    "transition.raised": Text("RAISED", "报警"),
    "transition.level_changed": Text("LEVEL CHANGED", "级别变化"),
    "transition.cleared": Text("CLEARED", "已恢复"),
    "transition.acknowledged": Text("ACKNOWLEDGED", "已确认"),
    "transition.shelved": Text("SHELVED", "已搁置"),
    "transition.unshelved": Text("UNSHELVED", "取消搁置"),
    "transition.reset": Text("RESET", "已复位"),
    "transition.realarmed": Text("REALARMED", "再次报警"),
    "transition.updated": Text("UPDATED", "信息更新"),
    "transition.suppressed": Text("SUPPRESSED", "已抑制"),
    "transition.unsuppressed": Text("UNSUPPRESSED", "取消抑制"),
    "colour.blue": Text("blue", "蓝色"),
    "colour.yellow": Text("yellow", "黄色"),
    "colour.orange": Text("orange", "橙色"),
    "colour.red": Text("red", "红色"),
    "status.actual": Text("actual", "真实"),
    "status.exercise": Text("exercise", "演练"),
    "status.test": Text("test", "测试"),
    "link.online": Text("ONLINE", "在线"),
    "link.offline": Text("OFFLINE", "离线"),
    "link.unknown": Text("UNKNOWN", "状态未知"),
    "value.on": Text("on", "触发"),
    "value.off": Text("off", "正常"),
    # -- one line per message the platform receives (console, demo) ---------------------------
    "event.alarm": Text(
        "{transition} {grade} ({colour}) {key}, {location}",
        "{transition} {grade}（{colour}） {key}，{location}",
    ),
    "event.reading": Text(": {reading}", "：{reading}"),
    "event.value_threshold": Text("{value}, threshold {threshold}", "{value}，阈值 {threshold}"),
    "event.by": Text(", by {who}", "，操作人 {who}"),
    "event.device": Text("device {device}: {health}", "设备 {device}：{health}"),
    "event.online": Text(
        "station {station} online (version {version})", "站点 {station} 上线（版本 {version}）"
    ),
    "event.offline": Text("station {station} OFFLINE", "站点 {station} 离线"),
    "event.active_none": Text("active alarms: none", "活动报警：无"),
    "event.alarms": Text(
        "alarms: {active} active, {cleared} cleared awaiting acknowledgement ({alarms})",
        "报警：{active} 条活动，{cleared} 条已恢复待确认（{alarms}）",
    ),
    "event.readings": Text("readings {device}: {readings}", "读数 {device}：{readings}"),
    "event.report_clear": Text("situation report: all clear", "态势报告：一切正常"),
    "event.report": Text("situation report: {count} active alarm(s)", "态势报告：{count} 条活动报警"),
    "event.answer_ok": Text("answer to {command}: ok", "{command} 的应答：成功"),
    "event.answer_refused": Text(
        "answer to {command}: refused ({error})", "{command} 的应答：被拒绝（{error}）"
    ),
    "event.radio_message": Text("radio message from {radio}: {text}", "电台 {radio} 的消息：{text}"),
    "event.radio_delivery": Text(
        "radio broadcast delivered to {count} radio(s): {text}", "电台广播已送达 {count} 台：{text}"
    ),
    "event.unknown": Text(
        "{topic}: not a message of the contract ({reason}, {size} bytes)",
        "{topic}：不是约定格式的消息（{reason}，{size} 字节）",
    ),
    # -- the message field of the station's alarm events ------------------------------------
    "alarm.reading": Text("{device} {alarm}: {reading}", "{device} {alarm}：{reading}"),
    "alarm.device_alarm": Text("device alarm", "设备自身报警"),
    "alarm.rising": Text("{reading}, rising {rise} within {window} s", "{reading}，{window} 秒内上升 {rise}"),
    "alarm.device_fault": Text("{device}: {reason}", "{device} 故障：{reason}"),
    "alarm.device_normal": Text("{device}: back to normal", "{device}：恢复正常"),
    "alarm.out_of_range": Text("{point} out of range: {value}", "{point} 超出量程（{value}）"),
    "alarm.stuck": Text("{point} stuck at {value}", "{point} 读数停滞于 {value}"),
    "alarm.test_started": Text("{device}: detector test started", "{device}：探测器测试开始"),
    "alarm.test_interrupted": Text(
        "{device}: detector test ended while the gateway was restarting",
        "{device}：探测器测试在网关重启期间结束",
    ),
    "alarm.test_verdict": Text("{device}: {verdict}", "{device}：{verdict}"),
    "alarm.test_no_bit": Text(
        "detector test done (the detector has no alarm bit to check)",
        "探测器测试完成（该探测器没有可检查的报警位）",
    ),
    "alarm.test_silent": Text(
        "detector test failed: no alarm during the test", "探测器测试失败：测试期间未报警"
    ),
    "alarm.test_late": Text(
        "detector test failed: alarm after {seconds} s, limit {limit} s",
        "探测器测试失败：{seconds} 秒后才报警，限值 {limit} 秒",
    ),
    "alarm.test_passed": Text(
        "detector test passed: alarm after {seconds} s", "探测器测试通过：{seconds} 秒后报警"
    ),
    "alarm.zone_confirmed": Text("{zone}: confirmed by {devices}", "{zone}：已由 {devices} 确认"),
    "alarm.zone_unconfirmed": Text("{zone}: no longer confirmed", "{zone}：不再确认"),
    "alarm.flood": Text(
        "alarm flood: more than {count} alarms within {minutes} min; {grade} and below summarised",
        "报警泛滥：{minutes} 分钟内超过 {count} 条报警；{grade}及以下级别合并汇总",
    ),
    "alarm.flood_over": Text(
        "alarm flood over: {held} lower-grade event(s) were summarised",
        "报警泛滥结束：{held} 条较低级别事件已合并汇总",
    ),
    "alarm.realarm": Text(
        " - still unacknowledged (re-alarm {count})", " - 仍未确认（第 {count} 次再次报警）"
    ),
    "alarm.acknowledged": Text("{key} acknowledged by {by}", "{key} 已由 {by} 确认"),
    "alarm.shelved": Text("{key} shelved by {by} for {minutes} min", "{key} 已由 {by} 搁置 {minutes} 分钟"),
    "alarm.unshelved": Text("{key} unshelved by {by}", "{key} 已由 {by} 取消搁置"),
    "alarm.shelving_expired": Text("{key} shelving expired", "{key} 搁置已到期"),
    "alarm.reset": Text("{key} reset by {by}", "{key} 已由 {by} 复位"),
    "alarm.suppressed": Text(
        "{device} suppressed ({reason}) by {by} for {minutes} min",
        "{device} 已由 {by} 抑制 {minutes} 分钟（{reason}）",
    ),
    "alarm.unsuppressed": Text("{device} unsuppressed by {by}", "{device} 已由 {by} 取消抑制"),
    "alarm.suppression_expired": Text(
        "{device}: suppression ({reason}) expired", "{device}：抑制（{reason}）已到期"
    ),
    "alarm.storage_fault": Text(
        "gateway storage fault: {error}; events held in memory until the disk takes writes again",
        "网关存储故障：{error}；事件暂存于内存，直到磁盘恢复写入",
    ),
    "alarm.storage_ok": Text(
        "gateway storage takes writes again: events held in memory are stored",
        "网关存储已恢复写入：内存中暂存的事件已保存",
    ),
    "alarm.radio_unknown": Text("unknown radio {radio}", "未登记电台 {radio}"),
    "alarm.radio_emergency": Text(
        "EMERGENCY from {who} ({radio}) via {bridge}: {text}",
        "紧急求助：{who}（{radio}），经 {bridge}：{text}",
    ),
    "alarm.radio_update": Text(
        "UPDATE from {who} ({radio}) via {bridge}: {text}", "求助更新：{who}（{radio}），经 {bridge}：{text}"
    ),
    "alarm.radio_restore": Text(
        "RESTORE from {radio} via {bridge}: latched until reset",
        "解除信号：{radio}，经 {bridge}；复位前保持锁存",
    ),
    "alarm.radio_link": Text("radio bridge {bridge}: {text}", "电台网关 {bridge}：{text}"),
    # -- the duty officer's console -------------------------------------------------------
    "console.station": Text("station {station}  {state}", "站点 {station}  {state}"),
    "console.devices": Text("devices: {summary}", "设备：{summary}"),
    "console.device_count": Text("{count} {health}", "{health} {count} 台"),
    "console.no_device_status": Text("no device status yet", "尚无设备状态"),
    "console.exercise": Text("EXERCISE", "演练中"),
    "console.active": Text("active alarms: {count}", "活动报警：{count} 条"),
    "console.active_none": Text("active alarms: none", "活动报警：无"),
    "console.cleared_unack": Text("cleared, not yet acknowledged: {count}", "已恢复，待确认：{count} 条"),
    "console.alarm": Text(
        "{grade} ({colour}), {state}: {key}, {location}", "{grade}（{colour}），{state}：{key}，{location}"
    ),
    "console.recent": Text("recent events:", "最近事件："),
    "console.watching": Text(
        "watching {station}; type help for the commands", "正在监视 {station}；输入 help 查看命令"
    ),
    "console.every_station": Text("every station", "所有站点"),
    "console.sent": Text("-> {station}: {command}", "-> {station}：{command}"),
    "console.ok": Text("<- {station}: {command} ok", "<- {station}：{command} 成功"),
    "console.refused": Text(
        "<- {station}: {command} REFUSED: {error}", "<- {station}：{command} 被拒绝：{error}"
    ),
    "console.no_answer": Text(
        "<- {station}: {command}: no answer within {seconds} s",
        "<- {station}：{command} 在 {seconds} 秒内无应答",
    ),
    "console.not_sent": Text(
        "<- {station}: {command} not sent ({error})", "<- {station}：{command} 未发送（{error}）"
    ),
    "console.no_number": Text(
        "no alarm number {number} in the list; type show to list them",
        "列表中没有编号为 {number} 的报警；输入 show 查看列表",
    ),
    "console.none_cleared": Text("no cleared alarm waits for acknowledgement", "没有待确认的已恢复报警"),
    "console.which_station": Text(
        "{command} for which station? add @STATION", "{command} 发给哪个站点？请加上 @站点"
    ),
    "console.which_alarm": Text(
        "{key} is an alarm of several stations ({stations}); add @STATION",
        "多个站点都有报警 {key}（{stations}）；请加上 @站点",
    ),
    "console.unknown_command": Text(
        "unknown command {command}; commands: {names}", "未知命令 {command}；可用命令：{names}"
    ),
    "console.too_many_words": Text("too many words ({words}); {usage}", "多余的词（{words}）；用法：{usage}"),
    "console.usage": Text("usage: {usage}", "用法：{usage}"),
    "console.invalid": Text("{command}: {problems}", "{command}：{problems}"),
    "console.help_own": Text(
        "ack NUMBER | ack all cleared\n"
        "    acknowledge the alarm with this number in the list | every cleared alarm\n"
        "show | help | quit\n    the board again | this help | leave the console",
        "ack 编号 | ack all cleared\n    确认列表中该编号的报警 | 确认所有已恢复的报警\n"
        "show | help | quit\n    再次显示看板 | 本帮助 | 退出控制台",
    ),
    # -- the walk test: live lines and the commissioning report ----------------------------
    "walk.start": Text(
        "walk test of station {station}: {count} devices; trigger each sensor and button now "
        "(Ctrl-C ends and writes the report)",
        "站点 {station} 巡检测试：共 {count} 台设备；请逐一触发每个传感器和按钮（按 Ctrl-C 结束并生成报告）",
    ),
    "walk.waiting": Text("  waiting  {device}  {location}", "  等待  {device}  {location}"),
    "walk.reached": Text(
        "REACHED {count}/{total}  {device}  {time}  {event}  {location}",
        "已收到 {count}/{total}  {device}  {time}  {event}  {location}",
    ),
    "walk.event": Text(
        "{kind} {transition} ({status}, {colour})", "{kind} {transition}（{status}，{colour}）"
    ),
    "walk.latency": Text(", {seconds} s to the platform", "，{seconds} 秒到达平台"),
    "walk.summary": Text(
        "{count} of {total} devices reached the platform", "{total} 台设备中 {count} 台已到达平台"
    ),
    "walk.not_reached": Text("NOT REACHED  {device}  {location}", "未收到  {device}  {location}"),
    "walk.report": Text("report: {path}", "报告：{path}"),
    "walk.title": Text("Walk test {station}", "巡检测试 {station}"),
    "walk.heading": Text("Walk test: {name} ({station})", "巡检测试：{name}（{station}）"),
    "walk.period": Text("From {start} to {end} ({zone}).", "时间：{start} 至 {end}（{zone}）。"),
    "walk.missing": Text("; not reached: {devices}", "；未收到：{devices}"),
    "walk.col_device": Text("device", "设备"),
    "walk.col_location": Text("location", "位置"),
    "walk.col_profile": Text("profile", "设备类型"),
    "walk.col_result": Text("result", "结果"),
    "walk.col_reached_at": Text("reached at", "到达时间"),
    "walk.col_event": Text("event", "事件"),
    "walk.col_value": Text("value", "数值"),
    "walk.col_latency": Text("latency", "延迟"),
    "walk.col_faults": Text("faults", "故障"),
    "walk.result_reached": Text("reached", "已到达"),
    "walk.result_missing": Text("NOT REACHED", "未到达"),
    "walk.seconds": Text("{seconds} s", "{seconds} 秒"),
    "walk.sign": Text(
        "Technician: ______________________ &nbsp; Signature: ______________________",
        "技术员：______________________ &nbsp; 签名：______________________",
    ),
    "help.ping": Text("answers with version, boot id, uptime", "应答版本、启动编号和运行时长"),
    "help.ack": Text(
        "acknowledges an alarm (active -> active_ack; cleared -> back to normal)",
        "确认报警（报警中 -> 已确认；已恢复 -> 恢复正常）",
    ),
    "help.shelve": Text(
        "shelves an alarm for some minutes; shelving always expires", "将报警搁置若干分钟；搁置总会到期"
    ),
    "help.unshelve": Text("ends an alarm's shelving early", "提前结束报警的搁置"),
    "help.suppress": Text(
        "suppresses a device's alarms for some minutes (still reported, marked); expires",
        "在若干分钟内抑制设备的报警（仍上报并标注）；到期自动解除",
    ),
    "help.unsuppress": Text("ends a device's suppression early", "提前结束设备的抑制"),
    "help.reset": Text(
        "releases a latched alarm (a fire alarm stays latched until reset)",
        "解除锁存的报警（火灾报警在复位前保持锁存）",
    ),
    "help.exercise": Text(
        "marks events of the station (or one device) as an exercise", "将本站（或某台设备）的事件标记为演练"
    ),
    "help.report": Text("publishes a station report now", "立即发布站点报告"),
    "help.broadcast": Text(
        "sends text to the station's radios; answers per radio whether it acknowledged",
        "向本站电台发送文字；逐台应答是否已确认",
    ),
    "help.actuate": Text(
        "switches a declared actuator to one of its declared values", "将已声明的执行器切换到其声明的某个值"
    ),
    "help.config_push": Text(
        "replaces the station file (outpost config push sends one); rolled back if the broker "
        "is not reached with it",
        "替换站点配置文件（由 outpost config push 发送）；若用新配置连不上消息服务器则自动回退",
    ),
}


def station_zone(name: str | None) -> tzinfo:
    """The station's time zone (``reports.timezone``), or the system's: the clock people on site read."""
    if name:
        return ZoneInfo(name)
    zone = datetime.now().astimezone().tzinfo
    assert zone is not None
    return zone


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
