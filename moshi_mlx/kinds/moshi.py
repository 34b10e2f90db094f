"""Moshi: speech-to-speech conversation (Kyutai's repos ship no config.json: the default kind)."""

from .base import ModelKind

KIND = ModelKind("moshi", "speech-to-speech conversation", ("chat", "run", "serve"), "talk", "demo")
