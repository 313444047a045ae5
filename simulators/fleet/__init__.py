"""Fleet tools: many simulated stations against one broker (``outpost fleet``)."""
