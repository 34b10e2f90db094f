"""An assistant session read back from its recorded transcript (moshi_mlx/assistant/record.py: one
line per turn, "User: ..." or "Assistant: ...", a reply cut off ending with an em-dash, and one
"Tool: ..." line per tool call at its place), as the chat messages that continue it.

Tool calls come back as tool messages, as the model saw them in the session: an assistant message
carrying the call (`tool_calls`, OpenAI's shape that chat templates render) and the `tool` message
with its result ("Error: ..." for a call that failed, was denied or cancelled, as the engine tells
the model). The engine turns them into text for a chat model without tool calling
(moshi_mlx.assistant.record.history_for_chat)."""

from __future__ import annotations

from moshi_mlx.assistant.record import ToolRecord, parse_tool_line

CUT_MARK = "—"
ROLES = {"User": "user", "You": "user", "Assistant": "assistant"}
DENIED = "The user did not allow this tool call."
CANCELLED = "The call was cancelled (the reply was cut off)."


def tool_messages(record: ToolRecord, call_id: str) -> list[dict]:
    """The assistant's call and the tool's answer, as the chat model got them."""
    if record.status == "denied":
        content = "Error: " + DENIED
    elif record.status == "cancelled":
        content = "Error: " + CANCELLED
    elif record.status == "error":
        content = "Error: " + record.result
    else:
        content = record.result
    call = {"id": call_id, "type": "function", "function": {"name": record.name, "arguments": dict(record.arguments)}}
    return [{"role": "assistant", "content": "", "tool_calls": [call]},
            {"role": "tool", "tool_call_id": call_id, "name": record.name, "content": content,
             "status": record.status} | ({"asked": True} if record.asked else {})]


def tool_history(event, asked: bool = False) -> list[dict]:
    """The messages of a call that ended in a running session (its ToolCallEvent), as History will
    read them back."""
    status = "allowed" if event.state == "done" else event.state
    record = ToolRecord(event.name, dict(event.arguments or {}), status, str(event.result or ""), asked)
    return tool_messages(record, event.call_id)


def messages_from_lines(lines: list[str]) -> list[dict]:
    """[{"role": "user" | "assistant" | "tool", "content": ...}] from the transcript's lines
    (without their time stamps); other lines (notes) are left out; a cut-off reply keeps the words
    heard and is marked `interrupted`."""
    messages: list[dict] = []
    calls = 0
    for line in lines:
        record = parse_tool_line(line)
        if record is not None:
            calls += 1
            messages += tool_messages(record, f"history-{calls}")
            continue
        who, sep, text = line.partition(": ")
        role = ROLES.get(who.strip())
        if not sep or role is None or not text.strip():
            continue
        text = text.strip()
        message = {"role": role, "content": text}
        if role == "assistant" and text.endswith(CUT_MARK):
            message = {"role": role, "content": text[:-len(CUT_MARK)].rstrip(), "interrupted": True}
        last = messages[-1] if messages else None
        if last is not None and last["role"] == role and not last.get("tool_calls"):  # two lines of one turn
            last["content"] += " " + message["content"]
        else:
            messages.append(message)
    return messages
