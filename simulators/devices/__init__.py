"""Field devices that speak the real wire protocols: Modbus units (TCP and RTU on ptys) and serial sensors."""
