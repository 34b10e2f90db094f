"""Kyutai's LMGen sampling defaults, in one place (no MLX here: the app reads them too)."""

TEXT_TEMPERATURE = 0.7
TEXT_TOP_K = 25
AUDIO_TEMPERATURE = 0.8
AUDIO_TOP_K = 250
