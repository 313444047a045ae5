"""Wire protocols only.

Drivers turn bytes on a wire into plain :class:`~drivers.observation.PollOutcome`
records. They know nothing of MQTT, alarms or YAML, and never import ``gateway``
or ``simulators``.
"""
