"""Wiring between the views, the settings and the engine-side services."""
