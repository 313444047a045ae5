"""Carries out the chains' actions: actuator writes, radio call-outs, acknowledgements by radio reply.

It hears every event once it is committed (the publisher's hook), whether the
uplink is up or not, so the station answers an alarm with nobody at the other
end. Actuators are switched through the same code as the platform's
``actuate`` command, call-outs go out through the same radio hub as its
``broadcast``. Every action becomes an ``outpost.response/1`` event through the
outbox. An actuator that refuses a write is a fault alarm of the gateway
(``<station>.gateway.actuator-<name>``), cleared by its next good write.

One responder lives as long as the gateway: a reload gives it the new rules
and the new configuration's parts (:meth:`Responder.reconfigure`), so running
chains, pending switch-backs and actions under way carry on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from drivers.shown import shown
from gateway.alarms.clock import Clock
from gateway.alarms.conditions import DEVICE_CONDITION, NORMAL_CONDITION
from gateway.alarms.engine import AlarmEngine, CommandRefused
from gateway.alarms.storage_fault import GATEWAY_DEVICE
from gateway.commands.registry import Actuators, CommandFailed, RadioBroadcaster
from gateway.config.models import StationConfig
from gateway.contract.events import AlarmSource, Envelope, RadioTraffic, ResponseEvent
from gateway.contract.levels import Grade
from gateway.contract.stamp import Stamper
from gateway.response.chains import Chains, Planned

if TYPE_CHECKING:  # a station without radios never loads their delivery
    from drivers.radio.delivery import Delivery

log = logging.getLogger(__name__)

Publish = Callable[[Sequence[Envelope]], "asyncio.Future[bool]"]


@dataclass(frozen=True)
class ResponseParts:
    """What one configuration gives the responder to act with; a reload hands over new ones."""

    engine: AlarmEngine
    actuators: Actuators
    radio: RadioBroadcaster | None
    publish: Publish


class Responder:
    """The station's local response; :meth:`run` is its long-running job."""

    def __init__(
        self,
        station: StationConfig,
        parts: ResponseParts,
        *,
        stamp: Stamper,
        clock: Clock,
        uplink_up: Callable[[], bool],
    ) -> None:
        self._station = station
        self._parts = parts
        self._stamp = stamp
        self._clock = clock
        self.chains = Chains(station, clock, uplink_up)
        self._wake = asyncio.Event()
        self._tasks: set[asyncio.Task] = set()
        self._failing: set[str] = set()  # actuators whose last write failed

    def reconfigure(self, station: StationConfig, parts: ResponseParts) -> None:
        """A reload: new rules and parts; running chains and pending switch-backs carry on."""
        self._station = station
        self._parts = parts
        self._carry_out(self.chains.reconfigure(station))
        self._wake.set()  # the rules' steps may have moved the next deadline

    def committed(self, events: Sequence[Envelope]) -> None:
        """The publisher's hook: events of one step, committed (or held in memory by a refusing disk)."""
        if not self._station.response.rules:
            return
        for event in events:
            if isinstance(event, RadioTraffic):
                for key in self.chains.radio_reply(event):
                    self._acknowledge_by_radio(key, event)
        self._carry_out(self.chains.observe(events))
        self._wake.set()  # a chain may have started: the next deadline moved

    def _acknowledge_by_radio(self, key: str, reply: RadioTraffic) -> None:
        assert reply.radio is not None
        try:
            events = self._parts.engine.acknowledge(key, f"{reply.radio.radio} by radio")
        except CommandRefused:
            return  # acknowledged meanwhile, or back to normal: the chain has ended already
        self._parts.publish(events)

    async def run(self) -> None:
        """Wait for the next step's time (or a new chain), then carry out what is due."""
        try:
            while True:
                deadline = self.chains.next_deadline()
                timeout = None if deadline is None else max(0.0, deadline - self._clock.monotonic())
                with contextlib.suppress(TimeoutError):  # the next step's time has come
                    async with asyncio.timeout(timeout):  # not wait_for: 3.11's drops a stop
                        await self._wake.wait()
                self._wake.clear()
                self._carry_out(self.chains.due())
        finally:
            for task in self._tasks:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def _carry_out(self, planned: list[Planned]) -> None:
        for action in planned:
            if action.skip is not None or action.action in ("acknowledged", "ended"):
                self._report(action, outcome="skipped" if action.skip else "done", reason=action.skip)
                continue
            job = self._actuate(action) if action.actuate is not None else self._call(action)
            task = asyncio.ensure_future(job)
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _actuate(self, action: Planned) -> None:
        assert action.actuate is not None
        name, value = action.actuate.actuator, action.actuate.value
        try:
            await self._parts.actuators.set(name, value)
        except CommandFailed as exc:
            log.error("response %s: actuator %s not switched to %s: %s", action.rule, shown(name), value, exc)
            self._report(action, outcome="failed", reason=str(exc))
            self._fault(name, str(exc))
            return
        self._report(action, outcome="done", reason=action.reason)
        if name in self._failing:
            self._fault(name, None)

    async def _call(self, action: Planned) -> None:
        assert action.call is not None
        radio = self._parts.radio
        if radio is None:  # the loader insists on a radios section for a call
            self._report(action, outcome="failed", reason="no radio bridge")
            return
        call = action.call
        log.warning("response %s: calling %s: %s", action.rule, call.group or "all radios", shown(call.text))

        async def settled(recipient: str, delivery: Delivery) -> None:
            pass  # the call's event carries every outcome once all have settled

        try:
            deliveries = await radio.broadcast(call.text, call.group, settled)
        except CommandFailed as exc:
            self._report(action, outcome="failed", reason=str(exc))
            return
        self._report(action, outcome="done", deliveries={r: d.as_dict() for r, d in deliveries.items()})

    def _fault(self, actuator: str, error: str | None) -> None:
        """The actuator's fault alarm: raised by a failed write, cleared by a good one."""
        declared = self._station.actuators.get(actuator)
        if declared is None:  # a reload removed it before its switch-back: only the event tells
            return
        device = declared.device
        location = self._station.devices[device].location
        text = (
            f"actuator {actuator} does not switch: {error}"
            if error
            else f"actuator {actuator} switches again"
        )
        (self._failing.add if error else self._failing.discard)(actuator)
        self._parts.publish(
            self._parts.engine.external(
                GATEWAY_DEVICE,
                f"actuator-{actuator}",
                kind="device_fault",
                grade=Grade.FAULT if error else None,
                condition=DEVICE_CONDITION if error else NORMAL_CONDITION,
                text=text,
                source=AlarmSource(device=device, point=None, bus="", profile="", location=location),
                observed_at=self._clock.now(),
                now=self._clock.monotonic(),
            )
        )

    def _report(self, action: Planned, *, outcome: Any, reason: str | None = None, **extra: Any) -> None:
        alarm = action.alarm
        what: dict[str, Any] = {}
        if action.actuate is not None:
            what = {"actuator": action.actuate.actuator, "value": action.actuate.value}
        if action.call is not None:
            what = {"group": action.call.group, "text": action.call.text}
        event = ResponseEvent(
            rule=action.rule,
            alarm_key=alarm.alarm_key,
            alarm_id=alarm.first_id,
            action=action.action,
            outcome=outcome,
            step=action.step,
            reason=reason or action.reason,
            by=action.by,
            via=action.via,
            status=alarm.status,
            **what,
            **extra,
            **self._stamp(),
        )
        self._parts.publish([event])
