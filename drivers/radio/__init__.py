"""Two-way radio wire protocols: KISS, AX.25 and APRS for TNCs, and text line protocols."""
