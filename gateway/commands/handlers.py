"""Every downlink command: its arguments, its one-line help, its handler and the result it answers with.

Adding a command is one entry here: an argument model and a handler
registered with ``@COMMANDS.add(name, Arguments, help)``. The processor,
``outpost cmd --help`` and the console learn of it from :data:`COMMANDS`.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Literal, TypedDict

from pydantic import Field

from drivers.shown import shown
from gateway import __version__
from gateway.commands.registry import Arguments, CommandContext, CommandFailed, Registry
from gateway.contract.events import AlarmEvent, RadioDetails, RadioTraffic

if TYPE_CHECKING:  # a station without radios never loads their delivery
    from drivers.radio.delivery import Delivery

log = logging.getLogger(__name__)

COMMANDS = Registry()


class NoArgs(Arguments):
    pass


class AlarmArgs(Arguments):
    alarm_key: str
    by: str = Field(default="platform", max_length=64)


class ShelveArgs(AlarmArgs):
    minutes: float = Field(gt=0, le=24 * 60)


class ActiveAlarms(TypedDict):
    """The alarms active after the command: how the platform sees what it changed."""

    alarms: list[dict[str, Any]]


def active_alarms(context: CommandContext) -> ActiveAlarms:
    return {"alarms": [a.model_dump(mode="json") for a in context.engine.active_alarms()]}


# -- ping -------------------------------------------------------------------------------
class Pong(TypedDict):
    pong: bool
    version: str
    boot_id: str
    uptime_s: float


@COMMANDS.add("ping", NoArgs, "answers with version, boot id, uptime")
async def ping(context: CommandContext, args: NoArgs) -> Pong:
    return {
        "pong": True,
        "version": __version__,
        "boot_id": context.boot.id,
        "uptime_s": context.boot.uptime(),
    }


# -- ack --------------------------------------------------------------------------------
class AnsweringRadios(TypedDict):
    """The radios whose press this acknowledged: each is sent the acknowledgement text."""

    answering_radios: list[str]


@COMMANDS.add("ack", AlarmArgs, "acknowledges an alarm (active -> active_ack; cleared -> back to normal)")
async def ack(context: CommandContext, args: AlarmArgs) -> AnsweringRadios | ActiveAlarms:
    from gateway.radio.alarms import SOS_KIND  # here: it imports the alarm engine (see registry)

    events = context.engine.acknowledge(args.alarm_key, args.by)
    await context.publish(events)
    pressed = [e.radio for e in events if isinstance(e, AlarmEvent) and e.kind == SOS_KIND]
    for radio in filter(None, pressed):
        context.in_background(_answer_radio(context, radio))
    if pressed:
        return {"answering_radios": [r.radio for r in pressed if r]}
    return active_alarms(context)


async def _answer_radio(context: CommandContext, radio: RadioDetails) -> None:
    """The acknowledgement text to the radio that pressed; the outcome goes to the platform."""
    hub = context.radio_hub
    assert hub is not None  # a radio press reaches the engine only through the station's radio hub
    text = hub.config.ack_text
    delivery = await hub.send(radio.radio, text, bridge=radio.bridge)
    traffic = RadioTraffic(
        event="delivery", text=text, deliveries={delivery.radio: delivery.as_dict()}, **context.stamp()
    )
    await context.publish([traffic])


# -- shelve, unshelve, reset -----------------------------------------------------------
@COMMANDS.add("shelve", ShelveArgs, "shelves an alarm for some minutes; shelving always expires")
async def shelve(context: CommandContext, args: ShelveArgs) -> ActiveAlarms:
    await context.publish(context.engine.shelve(args.alarm_key, args.minutes * 60, args.by))
    return active_alarms(context)


@COMMANDS.add("unshelve", AlarmArgs, "ends an alarm's shelving early")
async def unshelve(context: CommandContext, args: AlarmArgs) -> ActiveAlarms:
    await context.publish(context.engine.unshelve(args.alarm_key, args.by))
    return active_alarms(context)


@COMMANDS.add("reset", AlarmArgs, "releases a latched alarm (a fire alarm stays latched until reset)")
async def reset(context: CommandContext, args: AlarmArgs) -> ActiveAlarms:
    await context.publish(context.engine.reset(args.alarm_key, args.by))
    return active_alarms(context)


# -- suppress, unsuppress ---------------------------------------------------------------
class DeviceArgs(Arguments):
    device: str
    by: str = Field(default="platform", max_length=64)


class SuppressArgs(DeviceArgs):
    reason: Literal["maintenance", "out_of_service"] = "maintenance"
    minutes: float = Field(gt=0, le=7 * 24 * 60)


@COMMANDS.add(
    "suppress",
    SuppressArgs,
    "suppresses a device's alarms for some minutes (still reported, marked); expires",
)
async def suppress(context: CommandContext, args: SuppressArgs) -> ActiveAlarms:
    await context.publish(context.engine.suppress(args.device, args.reason, args.minutes * 60, args.by))
    log.warning(
        "%s suppressed (%s) for %g min by %s", shown(args.device), args.reason, args.minutes, shown(args.by)
    )
    return active_alarms(context)


@COMMANDS.add("unsuppress", DeviceArgs, "ends a device's suppression early")
async def unsuppress(context: CommandContext, args: DeviceArgs) -> ActiveAlarms:
    await context.publish(context.engine.unsuppress(args.device, args.by))
    return active_alarms(context)


# -- exercise ---------------------------------------------------------------------------
class ExerciseArgs(Arguments):
    on: bool
    device: str | None = None


class Exercise(TypedDict):
    exercise: bool
    device: str | None


@COMMANDS.add("exercise", ExerciseArgs, "marks events of the station (or one device) as an exercise")
async def exercise(context: CommandContext, args: ExerciseArgs) -> Exercise:
    context.engine.set_exercise(args.on, args.device)
    await context.publish([])  # no event, but the state it changed is committed
    where = shown(args.device) if args.device else "the whole station"
    log.warning("exercise mode %s for %s", "ON" if args.on else "off", where)
    return {"exercise": args.on, "device": args.device}


# -- report -----------------------------------------------------------------------------
class ReportSent(TypedDict):
    report_id: str
    all_clear: bool


@COMMANDS.add("report", NoArgs, "publishes a station report now")
async def report(context: CommandContext, args: NoArgs) -> ReportSent:
    sent = context.report()
    await context.publish([sent])
    return {"report_id": sent.id, "all_clear": sent.all_clear}


# -- broadcast --------------------------------------------------------------------------
class BroadcastArgs(Arguments):
    text: str = Field(min_length=1, max_length=200)
    group: str | None = None


class BroadcastAccepted(TypedDict):
    """The broadcast is under way; its steps follow on ``{p}/radio`` with this id."""

    accepted: bool
    broadcast_id: str
    recipients: list[str]


@COMMANDS.add(
    "broadcast",
    BroadcastArgs,
    "sends text to the station's radios; answers accepted with a broadcast id, "
    "each radio's outcome follows on {p}/radio",
    background=True,  # never held up behind other commands, nor holding them up
)
async def broadcast(context: CommandContext, args: BroadcastArgs) -> BroadcastAccepted:
    if context.radio is None:
        raise CommandFailed("no radio bridge is configured at this station")
    recipients = context.radio.recipients(args.group)
    accepted = RadioTraffic(
        event="broadcast",
        state="accepted",
        text=args.text,
        group=args.group,
        recipients=recipients,
        **context.stamp(),
    )
    accepted = accepted.model_copy(update={"broadcast_id": accepted.id})  # its own id names it
    await context.publish([accepted])
    context.in_background(_broadcast(context, args, accepted.id))
    return {"accepted": True, "broadcast_id": accepted.id, "recipients": recipients}


async def _broadcast(context: CommandContext, args: BroadcastArgs, broadcast_id: str) -> None:
    """The broadcast itself: a ``progress`` event as each recipient settles, then ``finished``.

    Every step goes through the outbox, so a platform that was away hears how it ended.
    """
    from drivers.radio.delivery import Outcome

    assert context.radio is not None

    def step(state: Literal["progress", "finished"], deliveries: dict[str, Delivery]) -> RadioTraffic:
        return RadioTraffic(
            event="broadcast",
            broadcast_id=broadcast_id,
            state=state,
            text=args.text,
            group=args.group,
            deliveries={name: d.as_dict() for name, d in deliveries.items()},
            **context.stamp(),
        )

    async def settled(recipient: str, delivery: Delivery) -> None:
        await context.publish([step("progress", {recipient: delivery})])

    deliveries = await context.radio.broadcast(args.text, args.group, settled)
    finished = step("finished", deliveries)
    if args.group is not None:
        acknowledged = sum(d.outcome is Outcome.ACKNOWLEDGED for d in deliveries.values())
        finished = finished.model_copy(update={"acknowledged": acknowledged})
    await context.publish([finished])


# -- actuate ----------------------------------------------------------------------------
class ActuateArgs(Arguments):
    actuator: str
    value: str


class Actuated(TypedDict):
    actuator: str
    value: str


@COMMANDS.add("actuate", ActuateArgs, "switches a declared actuator to one of its declared values")
async def actuate(context: CommandContext, args: ActuateArgs) -> Actuated:
    await context.actuators.set(args.actuator, args.value)
    return {"actuator": args.actuator, "value": args.value}


# -- config_push ------------------------------------------------------------------------
class ConfigPushArgs(Arguments):
    yaml: str = Field(min_length=1)  # the station file's text; the command as a whole is bounded


class ConfigPushed(TypedDict):
    """The file is written and about to be applied; whether it stays shows in the station status."""

    sha256: str
    previous_sha256: str
    confirm_within_s: float


@COMMANDS.add(
    "config_push",
    ConfigPushArgs,
    "replaces the station file (yaml=TEXT) and applies it like a reload; rolled back by the station "
    "if it does not reach the broker in time (outpost config push sends a file)",
)
async def config_push(context: CommandContext, args: ConfigPushArgs) -> ConfigPushed:
    pushed = await context.config_push.push(args.yaml)
    context.after_answer(pushed.apply)
    return {
        "sha256": pushed.sha256,
        "previous_sha256": pushed.previous_sha256,
        "confirm_within_s": pushed.confirm_within,
    }
