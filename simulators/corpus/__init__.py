"""Recorded sensor traces and their replayer.

The replayer measures the alarm engine's detection and nuisance alarms on the
traces in ``traces/``, which ship inside the package so it runs installed too.
"""
