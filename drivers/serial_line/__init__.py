"""Simple serial sensors: ASCII sentences and fixed-length binary frames on a serial port.

Bytes become readings in four steps, one module each: ``framing`` cuts the
stream into frames, ``checksums`` vouches for them, ``parsing`` (text) or
``binary`` (fixed frames) turns them into point values, and ``protocol`` ties
the steps together for one sensor model. ``poller`` owns the port.
"""
