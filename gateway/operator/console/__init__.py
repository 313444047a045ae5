"""The duty officer's console (``outpost console``)."""
