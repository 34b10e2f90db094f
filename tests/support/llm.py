"""The assistant's LLM fixtures: one folder of demo LLMs per test session (built once, ~2 s)."""

import pytest

from moshi_mlx.assistant.demo_llm import demo_llm_dir

TOOLS = [
    {"type": "function", "function": {
        "name": "get_time", "description": "The time now.",
        "parameters": {"type": "object", "properties": {"tz": {"type": "string"}}}}},
    {"type": "function", "function": {
        "name": "set_timer", "description": "Start a timer.",
        "parameters": {"type": "object", "properties": {"minutes": {"type": "integer"}}}}},
]


@pytest.fixture(scope="session")
def llm_home(tmp_path_factory):
    """A cache dir holding both demo-llm variants."""
    home = tmp_path_factory.mktemp("demo-llm")
    for variant in ("qwen", "mistral"):
        demo_llm_dir(home, variant)
    return str(home)


def run_reply(chat, user_text, role="user"):
    """begin_reply + step until done: (pieces without the final one, the final piece)."""
    chat.begin_reply(user_text, role)
    pieces = []
    while not (piece := chat.step()).done:
        pieces.append(piece)
    return pieces, piece
