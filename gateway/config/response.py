"""The ``response:`` section: what the station does by itself when an alarm is raised.

The district platform may be unreachable, or nobody may answer: the station
then sounds its own sirens and calls its own people on the radio, step by
step, until someone acknowledges (the call-and-respond chain)::

    response:
      min_interval: 30s               # one rule's same action never repeats faster than this
      ack_words: [ACK, 收到]           # a radio reply that acknowledges (a member of a called group)
      rules:
        kitchen-gas:
          match: {kind: [gas], grade: second-stage}   # grade: this one or higher
          steps:
            - actuate: {actuator: yard-siren, value: on, max_on: 3m, reset: off}
            - call: {group: duty, text: "Gas leak in the kitchen: come to the station"}
            - after: 60s              # nobody acknowledged within 60 s: widen the call
              call: {group: leaders, text: "Gas leak, duty team not answering"}

Each step waits ``after`` seconds from the alarm (not from the previous step)
and runs only while the alarm is unacknowledged. ``when: uplink_down`` keeps a
rule for the times the district cannot hear the station.
"""

from __future__ import annotations

from typing import Annotated, Literal, Self

from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError

from gateway.config.types import Identifier, Seconds, Strict, in_range
from gateway.contract.events import EventStatus
from gateway.contract.levels import Grade


class ResponseMatch(Strict):
    """Which alarms a rule answers: every given criterion must hold (an empty list: any)."""

    kind: list[str] = Field(default_factory=list)
    grade: Grade = Grade.FIRST_STAGE  # this grade or a higher one
    device: list[Identifier] = Field(default_factory=list)
    zone: list[Identifier] = Field(default_factory=list)  # a device of one of these zones
    status: list[EventStatus] = Field(default_factory=lambda: [EventStatus.ACTUAL], min_length=1)


class ActuateAction(Strict):
    """Switch a declared actuator; a value other than ``reset`` is written back after ``max_on``."""

    actuator: Identifier
    value: Identifier
    max_on: Annotated[Seconds, in_range(1, 3600)] = 180.0
    reset: Identifier = "off"


class CallAction(Strict):
    """A radio message: to a group's radios (each retried until acknowledged), or a bulletin to all."""

    group: Identifier | None = None  # None: a bulletin on every bridge
    text: str = Field(min_length=1, max_length=67)


class ResponseStep(Strict):
    """One step of a chain: what to do, ``after`` seconds from the alarm, if still unacknowledged."""

    after: Annotated[Seconds, in_range(0, 24 * 3600)] = 0.0
    actuate: ActuateAction | None = None
    call: CallAction | None = None

    @model_validator(mode="after")
    def _does_something(self) -> Self:
        if self.actuate is None and self.call is None:
            raise PydanticCustomError("step", "a step needs 'actuate', 'call' or both")
        return self


class ResponseRule(Strict):
    """An alarm that matches, the steps that follow it, and when the rule applies."""

    match: ResponseMatch = ResponseMatch()
    when: Literal["always", "uplink_down"] = "always"
    exercise: bool = False  # a drill may sound real sirens (otherwise its actuator steps are skipped)
    steps: list[ResponseStep] = Field(min_length=1)

    @model_validator(mode="after")
    def _steps_in_order(self) -> Self:
        delays = [step.after for step in self.steps]
        if delays != sorted(delays):
            raise PydanticCustomError("steps", "steps must be in the order of their 'after'")
        return self


class ResponseConfig(Strict):
    min_interval: Annotated[Seconds, in_range(1, 3600)] = 30.0
    ack_words: list[str] = Field(default_factory=lambda: ["ACK", "收到"], min_length=1)
    rules: dict[Identifier, ResponseRule] = Field(default_factory=dict)

    def is_ack(self, text: str) -> bool:
        """Whether a radio's reply acknowledges: one of the words, alone, in any case."""
        return text.strip().casefold() in {word.casefold() for word in self.ack_words}
