"""Polls Source 2 (fuel prices) and publishes price-list change events."""
