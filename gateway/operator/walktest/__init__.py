"""Commissioning walk test (``outpost walktest``)."""
