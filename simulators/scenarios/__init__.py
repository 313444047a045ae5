"""Scenarios: timelines and expectations, their player, the judge, the end-to-end runner.

- :mod:`simulators.scenarios.scenario`: scenario files, validated;
- :mod:`simulators.scenarios.player`: plays a timeline against the station and its peers;
- :mod:`simulators.scenarios.expectations`: judges what the platform received;
- :mod:`simulators.scenarios.runner`: a scenario end to end (station, broker, gateway process, platform);
- :mod:`simulators.scenarios.platform` and :mod:`simulators.scenarios.gateway_process`: the
  platform's subscriber and ``outpost run`` as a process, shared with the tests.
"""
