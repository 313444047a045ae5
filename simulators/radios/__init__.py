"""Radios that speak the real protocols.

APRS handhelds over KISS, a KISS TNC emulator (the simulated air), a
line-protocol receiver peer (Contact ID), and paced audio between direwolf TNCs.
"""
