"""Radio bridges in the gateway: the registry, presses as alarms, acknowledgements and warnings out."""
