"""Downlink commands from the district platform: authentication and execution."""
