"""The engine tests' fixtures (demo_home, event_log) are in tests/conftest.py."""

from tests.support.events import EventLog  # noqa: F401  (its old home)
