"""Alarm evaluation: from observations to raised, changed and cleared alarms."""
