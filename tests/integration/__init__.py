"""Integration tests: one real peer each (Mosquitto, pymodbus, a pty, direwolf, VictoriaMetrics)."""
