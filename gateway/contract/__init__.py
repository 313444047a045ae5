"""The payload contract: every message the gateway publishes, its ids, sequence numbers and time stamps."""
