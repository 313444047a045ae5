"""The daemon as a service.

Wiring (runtime), supervision, systemd notify and watchdog, health and metrics, logging.
"""
