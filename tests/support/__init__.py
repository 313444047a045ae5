"""Helpers shared by the tests: the real peers, certificates, the browser, harnesses."""
