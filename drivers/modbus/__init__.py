"""Modbus: register maps, the read planner and the bus pollers."""
