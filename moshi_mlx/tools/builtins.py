"""The built-in tools: time, timers and reminders, calculator, History search, clipboard, open a URL
or an app, save a note. No shell tool.

Each has a JSON schema, MCP-style annotations (read-only or not) and a default consent policy:
read-only tools are allowed; tools that act on the world or read private data (the clipboard) ask;
timers and reminders are allowed too, as they only change the assistant's own list (cancellable).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Callable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from . import history_search, system
from .calculator import calculate
from .errors import ToolInputError
from .reminders import ReminderStore, describe

MAX_REMINDER_S = 366 * 86400


@dataclass(frozen=True)
class Builtin:
    name: str
    description: str
    parameters: dict
    read_only: bool
    policy: str  # the default: "allow" or "ask"
    run: Callable[["BuiltinContext", dict, threading.Event], str]
    question: Callable[[dict], str]


@dataclass
class BuiltinContext:
    reminders: ReminderStore
    history_dir: Path | None
    notes_path: Path
    system: system.System
    clock: Callable[[], float]


def _obj(props: dict, required: list[str] = ()) -> dict:
    return {"type": "object", "properties": props, "required": list(required), "additionalProperties": False}


def _str(args: dict, key: str, required: bool = True) -> str | None:
    v = args.get(key)
    if v is None and not required:
        return None
    if not isinstance(v, str) or (required and not v.strip()):
        raise ToolInputError(f"argument {key!r} must be a non-empty string")
    return v


def _number(args: dict, key: str) -> float | None:
    v = args.get(key)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        try:
            return float(v)
        except (TypeError, ValueError):
            raise ToolInputError(f"argument {key!r} must be a number") from None
    return float(v)


def _now(ctx: BuiltinContext) -> datetime:
    return datetime.fromtimestamp(ctx.clock()).astimezone()


def get_time(ctx: BuiltinContext, args: dict, cancel) -> str:
    now = _now(ctx)
    zone = _str(args, "timezone", required=False)
    if zone:
        try:
            now = now.astimezone(ZoneInfo(zone))
        except (ZoneInfoNotFoundError, ValueError):
            raise ToolInputError(f"unknown time zone {zone!r} (use a name like Europe/Paris)") from None
    offset = now.strftime("%z")
    return (f"{now.strftime('%A %d %B %Y, %H:%M:%S')} (time zone {now.tzname()}, UTC{offset[:3]}:{offset[3:]}"
            f"{', ' + zone if zone else ''})")


def _due(ctx: BuiltinContext, args: dict) -> float:
    now = ctx.clock()
    seconds = sum((_number(args, k) or 0.0) * f for k, f in (("hours", 3600), ("minutes", 60), ("seconds", 1)))
    at = _str(args, "at", required=False)
    if at:
        if seconds:
            raise ToolInputError("give either 'at' or a delay (hours, minutes, seconds), not both")
        return _parse_at(at, _now(ctx)).timestamp()
    if not 0 < seconds <= MAX_REMINDER_S:
        raise ToolInputError("give a delay (hours, minutes, seconds) above zero and within a year, or 'at'")
    return now + seconds


def _parse_at(at: str, now: datetime) -> datetime:
    at = at.strip()
    for fmt in ("%H:%M", "%H.%M", "%I:%M %p", "%I %p", "%I%p"):
        try:
            t = datetime.strptime(at.upper(), fmt)
        except ValueError:
            continue
        when = now.replace(hour=t.hour, minute=t.minute, second=0, microsecond=0)
        return when if when > now else when + timedelta(days=1)
    try:
        when = datetime.fromisoformat(at)
    except ValueError:
        raise ToolInputError(f"'at' must be a time like 14:30 or a date and time like 2026-05-01T09:00, not {at!r}") from None
    when = when if when.tzinfo else when.astimezone()
    if when <= now:
        raise ToolInputError(f"{at} is in the past")
    if (when - now).total_seconds() > MAX_REMINDER_S:
        raise ToolInputError(f"{at} is more than a year away")
    return when


def set_reminder(ctx: BuiltinContext, args: dict, cancel) -> str:
    text = " ".join(_str(args, "text").split())[:300]
    r = ctx.reminders.add(text, _due(ctx, args))
    return f"Reminder set: {describe(r, ctx.clock())}."


def set_timer(ctx: BuiltinContext, args: dict, cancel) -> str:
    label = " ".join((_str(args, "label", required=False) or "").split())[:100]
    r = ctx.reminders.add(f"Timer: {label}" if label else "Timer", _due(ctx, {k: args.get(k) for k in ("hours", "minutes", "seconds")}))
    return f"Timer set: {describe(r, ctx.clock())}."


def list_reminders(ctx: BuiltinContext, args: dict, cancel) -> str:
    items = ctx.reminders.pending()
    now = ctx.clock()
    return "\n".join(describe(r, now) for r in items) if items else "No timers or reminders are set."


def cancel_reminder(ctx: BuiltinContext, args: dict, cancel) -> str:
    key = _str(args, "reminder_id").strip()
    r = ctx.reminders.cancel(key)
    if r is None:
        matches = [x for x in ctx.reminders.pending() if key.lower() in x.text.lower()]
        if len(matches) == 1:
            r = ctx.reminders.cancel(matches[0].reminder_id)
        elif len(matches) > 1:
            raise ToolInputError(f"{len(matches)} reminders match {key!r}; give the id (list_reminders)")
    if r is None:
        raise ToolInputError(f"no reminder {key!r} (list_reminders shows them)")
    return f"Cancelled {r.reminder_id}: {r.text!r}."


def calculator(ctx: BuiltinContext, args: dict, cancel) -> str:
    expression = _str(args, "expression")
    return f"{expression} = {calculate(expression)}"


def search_history(ctx: BuiltinContext, args: dict, cancel) -> str:
    if ctx.history_dir is None:
        raise ToolInputError("no History folder is set")
    query = _str(args, "query", required=False) or ""
    date = _str(args, "date", required=False)
    if date:
        try:
            datetime.strptime(date, "%Y-%m-%d")
        except ValueError:
            raise ToolInputError(f"'date' must look like 2026-05-01, not {date!r}") from None
    limit = int(min(max(_number(args, "max_results") or 5, 1), 20))
    hits = history_search.search(ctx.history_dir, query, date, limit, cancel)
    return history_search.format_hits(hits, query)


def read_clipboard(ctx: BuiltinContext, args: dict, cancel) -> str:
    return system.read_clipboard(ctx.system)


def open_url(ctx: BuiltinContext, args: dict, cancel) -> str:
    return system.open_url(ctx.system, _str(args, "url"))


def open_app(ctx: BuiltinContext, args: dict, cancel) -> str:
    return system.open_app(ctx.system, _str(args, "name"))


def save_note(ctx: BuiltinContext, args: dict, cancel) -> str:
    return system.append_note(ctx.notes_path, _str(args, "text"), _now(ctx))


def _short(text, n: int = 120) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= n else text[: n - 1] + "…"


_DELAY = {"hours": {"type": "number"}, "minutes": {"type": "number"}, "seconds": {"type": "number"}}

BUILTINS: dict[str, Builtin] = {b.name: b for b in [
    Builtin("get_time", "The current date, time and time zone (optionally in another time zone).",
            _obj({"timezone": {"type": "string", "description": "IANA name, e.g. Europe/Paris"}}),
            True, "allow", get_time, lambda a: "May I read the time?"),
    Builtin("set_timer", "Start a timer that rings after the given delay.",
            _obj({**_DELAY, "label": {"type": "string"}}), False, "allow", set_timer,
            lambda a: "May I set a timer?"),
    Builtin("set_reminder", "Remind the user of something after a delay (hours/minutes/seconds) or at a "
            "time ('at': 14:30, or 2026-05-01T09:00).",
            _obj({"text": {"type": "string", "description": "what to remind"}, **_DELAY,
                  "at": {"type": "string"}}, ["text"]), False, "allow", set_reminder,
            lambda a: f"May I set a reminder: {_short(a.get('text', ''))}?"),
    Builtin("list_reminders", "List the timers and reminders that are set, with their ids.",
            _obj({}), True, "allow", list_reminders, lambda a: "May I list your reminders?"),
    Builtin("cancel_reminder", "Cancel a timer or reminder by its id (or a word of its text).",
            _obj({"reminder_id": {"type": "string"}}, ["reminder_id"]), False, "allow", cancel_reminder,
            lambda a: f"May I cancel the reminder {_short(a.get('reminder_id', ''))}?"),
    Builtin("calculator", "Exact arithmetic (+ - * / // % ** or ^, sqrt, round, abs, floor, ceil, min, max, "
            "factorial, pi) and unit conversion of length, mass, temperature, time, volume and speed: "
            "'3.5 km to miles', '100 F in C'.",
            _obj({"expression": {"type": "string"}}, ["expression"]), True, "allow", calculator,
            lambda a: "May I calculate?"),
    Builtin("search_history", "Search the transcripts of the user's past sessions (the History); each "
            "hit gives the session's date and the matching lines.",
            _obj({"query": {"type": "string", "description": "words that must all appear"},
                  "date": {"type": "string", "description": "only this day, YYYY-MM-DD"},
                  "max_results": {"type": "integer"}}), True, "allow", search_history,
            lambda a: f"May I search your History for {_short(a.get('query', ''))}?"),
    Builtin("read_clipboard", "Read the text on the user's clipboard.", _obj({}), True, "ask",
            read_clipboard, lambda a: "May I read your clipboard?"),
    Builtin("open_url", "Open a web page (http or https) in the user's browser.",
            _obj({"url": {"type": "string"}}, ["url"]), False, "ask", open_url,
            lambda a: f"May I open {_short(a.get('url', ''), 200)}?"),
    Builtin("open_app", "Open an application by its name.", _obj({"name": {"type": "string"}}, ["name"]),
            False, "ask", open_app, lambda a: f"May I open the app {_short(a.get('name', ''))}?"),
    Builtin("save_note", "Save a note for the user in their notes file.",
            _obj({"text": {"type": "string"}}, ["text"]), False, "ask", save_note,
            lambda a: f"May I save this note: {_short(a.get('text', ''))}?"),
]}
