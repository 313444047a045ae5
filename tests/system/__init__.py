"""System tests: scenarios, the simulated station end to end, install, the browser."""
