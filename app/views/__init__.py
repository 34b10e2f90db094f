"""Layout only: widgets and how they are arranged. Wiring lives in moshi_app.controllers."""
