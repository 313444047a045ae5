"""What the duty officer types at the console, turned into a signed downlink command's name and args."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

HELP = (
    "commands: ack ALARM_KEY [by NAME] | broadcast [@STATION] TEXT [group=G] | "
    "exercise on|off [DEVICE] [@STATION] | show | help | quit"
)


@dataclass(frozen=True)
class Request:
    station: str
    name: str
    args: dict[str, Any]


def parse(line: str, *, default_station: str | None, operator: str) -> Request | str:
    """A :class:`Request`, or the console's own word (``show``, ``help``, ``quit``), or ValueError."""
    words = line.split()
    if not words:
        return "show"
    verb, rest = words[0].lower(), words[1:]
    if verb in ("show", "help", "quit", "exit"):
        return "quit" if verb == "exit" else verb
    station = default_station
    targeted = [word for word in rest if word.startswith("@")]
    if targeted:
        station = targeted[-1][1:]
        rest = [word for word in rest if not word.startswith("@")]
    if verb == "ack":
        if not rest:
            raise ValueError("ack needs the alarm key, e.g. ack cs-0427.kitchen-gas.gas")
        key = rest[0]
        by = " ".join(rest[2:] if len(rest) > 1 and rest[1] == "by" else rest[1:]) or operator
        return Request(key.split(".", 1)[0], "ack", {"alarm_key": key, "by": by})
    if station is None:
        raise ValueError(f"{verb} for which station? add @STATION")
    if verb == "broadcast":
        group = next((word.split("=", 1)[1] for word in rest if word.startswith("group=")), None)
        text = " ".join(word for word in rest if not word.startswith("group="))
        if not text:
            raise ValueError("broadcast needs the text to send")
        return Request(station, "broadcast", {"text": text} | ({"group": group} if group else {}))
    if verb == "exercise":
        if not rest or rest[0] not in ("on", "off"):
            raise ValueError("exercise on|off [DEVICE]")
        args: dict[str, Any] = {"on": rest[0] == "on"}
        if len(rest) > 1:
            args["device"] = rest[1]
        return Request(station, "exercise", args)
    raise ValueError(f"unknown command {verb!r}; {HELP}")
