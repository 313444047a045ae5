"""The station's own page on the local metrics address: what the station sees, for people on site.

Imported only when ``metrics_listen`` is set, so a station without the page
does not load it.
"""
