"""An assistant session read back from its recorded transcript (moshi_mlx/assistant/record.py: one
line per turn, "User: ..." or "Assistant: ...", a reply cut off ending with an em-dash), as the chat
messages that continue it."""

from __future__ import annotations

CUT_MARK = "—"
ROLES = {"User": "user", "You": "user", "Assistant": "assistant"}


def messages_from_lines(lines: list[str]) -> list[dict]:
    """[{"role": "user" | "assistant", "content": ...}] from the transcript's lines (without their
    time stamps); other lines (tool calls, notes) are left out; a cut-off reply keeps the words heard
    and is marked `interrupted`."""
    messages: list[dict] = []
    for line in lines:
        who, sep, text = line.partition(": ")
        role = ROLES.get(who.strip())
        if not sep or role is None or not text.strip():
            continue
        text = text.strip()
        message = {"role": role, "content": text}
        if role == "assistant" and text.endswith(CUT_MARK):
            message = {"role": role, "content": text[:-len(CUT_MARK)].rstrip(), "interrupted": True}
        if messages and messages[-1]["role"] == role:  # two lines of one turn
            messages[-1]["content"] += " " + message["content"]
        else:
            messages.append(message)
    return messages
