"""Polls Source 1 (the station catalog) and publishes station change events."""
