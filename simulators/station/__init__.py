"""``outpost sim``: a whole station simulated from its YAML, controlled live or by a scenario.

- :mod:`simulators.station.buses` and :mod:`simulators.station.radio_bridges`: a
  simulator behind every bus and radio bridge of a station file;
- :mod:`simulators.station.controls`: what can be done to a running simulated station
  (set a point, make a device misbehave, unplug a bus), by name;
- :mod:`simulators.station.gateway_config`: the station file pointed at the simulators;
- :mod:`simulators.station.control_server`: the loopback control endpoint and its client;
- :mod:`simulators.station.web`: the tester's web page;
- :mod:`simulators.station.cli`: the ``outpost sim`` command line.
"""
