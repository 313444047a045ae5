"""Integration tests: one real peer each (Mosquitto with the gateway process, a pymodbus server,
a pty, mbpoll, a TNC stand-in, VictoriaMetrics)."""
