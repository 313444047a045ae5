"""Uplinks: how events leave the station (MQTT to the district platform)."""
