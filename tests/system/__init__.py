"""System tests: several peers or the whole station (scenarios, ``outpost sim`` with ``outpost run``,
the demo, radios over direwolf's air, the operator tools, install, the browser)."""
