"""Simulated field devices that speak the real wire protocols.

Simulators may use ``drivers`` codecs but never import ``gateway``: they take
driver-level register maps, so the same profile drives both sides.
"""
