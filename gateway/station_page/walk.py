"""The page's walk-test mode: each device marked tested once its alarm has reached the broker.

A technician walks the station triggering each detector and button, and reads
on the page which devices are done. The station knows its outbox: an event the
broker has acknowledged (:attr:`Outbox.on_delivered`) has left the station for
the platform, so that is the moment a device counts as tested. What counts is
the platform's walk test's rule (:class:`WalkTest`): an alarm or test event
raised by the device, not a fault, not a late copy.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from gateway.config import LoadedConfig
from gateway.outbox import Message

if TYPE_CHECKING:
    from gateway.operator.walktest.tracker import WalkTest


class WalkMode:
    """Off, or one walk test in progress, started and ended from the page by an operator."""

    def __init__(self, config: Callable[[], LoadedConfig]) -> None:
        self._config = config  # the configuration current when a walk test starts
        self.test: WalkTest | None = None

    def switch(self, on: bool) -> None:
        """Start a fresh walk test (every device waiting again), or end the one in progress."""
        # Imported here: the walk-test rule and the payload decoder are loaded by a walk test only.
        from gateway.operator.walktest.tracker import WalkTest

        self.test = WalkTest(self._config()) if on else None

    def delivered(self, message: Message) -> None:
        """The broker has ``message``: if it is an alarm of a device under test, that device is tested."""
        if self.test is not None and message.priority.protected:
            from gateway.contract.decode import decode

            self.test.observe(decode(message.payload))
