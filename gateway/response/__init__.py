"""Local response: sirens and radio call-outs the station runs itself, escalating until acknowledged."""
