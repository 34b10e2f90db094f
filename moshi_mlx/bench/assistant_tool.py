"""`bench assistant`'s tool turn: the user's speech, then a reply that is a tool call (scripted LLM,
qwen format) to a tool taking `tool_s`; the ms from the end of the speech to the filler's first
audio and to the answer's first audio."""

from __future__ import annotations

from .assistant_turn import turn as _turn


class _SlowToolBox:
    """ToolBox's interface (assistant/tools): one tool, `lookup`, that takes `delay` s (or until
    cancelled), no consent, no reminders."""

    def __init__(self, delay: float):
        self.delay = delay

    def schemas(self):
        return [{"type": "function", "function": {
            "name": "lookup", "description": "Look something up.",
            "parameters": {"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]}}}]

    def needs_consent(self, name):
        return False

    def question(self, name, arguments):
        return f"May I use {name}?"

    def allow_always(self, name):
        pass

    def call(self, name, arguments, cancel):
        from ..assistant.tool_calls import Outcome

        cancel.wait(self.delay)
        return Outcome("Sunny, 21 degrees.", False)

    def due_reminders(self, now):
        return []

    def close(self):
        pass


ANSWER = "It is sunny and twenty one degrees."


def tool_turn(transcriber, synth, audio, tool_s: float, cache_dir=None) -> dict:
    """One turn whose reply is a tool call (scripted LLM, qwen format) to a tool taking `tool_s`:
    ms from the end of the speech to the filler's first audio and to the answer's first audio."""
    from ..assistant.llm import ChatLLM, LlmSettings
    from ..assistant.scripted import scripted_llm
    from ..assistant.speech_text import speakable
    from ..assistant.tool_calls import FILLER

    tools = _SlowToolBox(tool_s)
    call = '<tool_call>\n{"name": "lookup", "arguments": {"query": "weather"}}\n</tool_call>'
    llm = scripted_llm([call, ANSWER], "qwen", cache_dir)
    chat = ChatLLM(llm, "Answer in one sentence.", LlmSettings(greedy=True, max_tokens=60, seed=0),
                   tools=tools.schemas())
    t = _turn(chat, transcriber, synth, audio, "What is the weather like?", tools=tools)
    filler, answer = speakable(FILLER).split(), speakable(ANSWER).split()
    said = [w.strip() for _, w in t["words"]]

    def first(word_list):
        for i in range(len(said) - len(word_list) + 1):
            if said[i:i + len(word_list)] == word_list:
                return (t["words"][i][0] - t["end"]) * 1e3
        return None

    return {"filler_first_audio": first(filler), "answer_first_audio": first(answer), "tool_s": t["tool_s"],
            "spoken": " ".join(said)}
