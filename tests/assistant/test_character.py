"""Character presets and the user's own system prompt (text or @file, used exactly as given)."""

import pytest

from moshi_mlx.assistant.character import DEFAULT_PRESET, PRESETS, system_prompt
from moshi_mlx.assistant.options import AssistantOptions
from moshi_mlx.errors import ConfigError


def test_presets_say_replies_are_short_and_spoken():
    assert DEFAULT_PRESET == AssistantOptions().preset in PRESETS
    assert {"assistant", "concise", "language-partner"} <= set(PRESETS)
    for name, preset in PRESETS.items():
        prompt = system_prompt(name)
        assert prompt == preset.prompt and "spoken" in prompt and "short" in prompt


def test_the_users_prompt_is_used_exactly_as_given(tmp_path):
    text = "  You are a pirate.\nSpeak like one.  "
    assert system_prompt("concise", text) == text
    file = tmp_path / "prompt.txt"
    file.write_text(text, encoding="utf-8")
    assert system_prompt("assistant", f"@{file}") == text
    assert system_prompt("assistant", "") == ""


def test_clear_errors():
    with pytest.raises(ConfigError, match="--preset 'pirate': unknown; choose one of assistant"):
        system_prompt("pirate")
    with pytest.raises(ConfigError, match="missing.txt: cannot read"):
        system_prompt("assistant", "@/nonexistent/missing.txt")
