"""``outpost sim``: a whole station simulated from its YAML, controlled live or by a scenario.

- :mod:`gateway.sim.controls`: what can be done to a running simulated station
  (set a point, make a device misbehave, unplug a bus), by name;
- :mod:`gateway.sim.gateway_config`: the station file pointed at the simulators;
- :mod:`gateway.sim.control_server`: the loopback control endpoint and its client;
- :mod:`gateway.sim.scenario`: scenario files (timelines and expectations), validated;
- :mod:`gateway.sim.player`: plays a timeline against the station and its peers;
- :mod:`gateway.sim.expectations`: judges what the platform received;
- :mod:`gateway.sim.runner`: a scenario end to end (station, broker, gateway process, platform);
- :mod:`gateway.sim.platform` and :mod:`gateway.sim.gateway_process`: the platform's
  subscriber and ``outpost run`` as a process, shared with the tests;
- :mod:`gateway.sim.cli`: the ``outpost sim`` command line.
"""
