"""The Moshi desktop app (PySide6), import name moshi_app."""
