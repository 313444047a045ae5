"""Platform-side tools: `outpost cmd`, `console` and `walktest`.

They share one MQTT client and one reading of the payloads.
"""
