"""The built-in tools through the ToolBox: reminders (injected clock, surviving a restart), time,
History search, clipboard / open / notes (with a fake System), consent policies."""

import json
import os
import threading
from datetime import datetime

import pytest

from moshi_mlx.tools import ToolBox, ToolsError
from moshi_mlx.tools.system import System

T0 = datetime(2026, 5, 1, 9, 0, 0).astimezone().timestamp()


class Clock:
    def __init__(self, t=T0):
        self.t = t

    def __call__(self):
        return self.t


class FakeSystem(System):
    """Records the commands instead of running them."""

    def __init__(self, platform="linux", tools=("xdg-open", "xclip"), answer=(0, "", "")):
        super().__init__(platform, which=lambda name: f"/usr/bin/{name}" if name in tools else None)
        self.ran, self.answer = [], answer

    def run(self, argv, timeout=5.0):
        self.ran.append(argv)
        return self.answer


def box_for(tmp_path, clock=None, **kw):
    kw.setdefault("data_dir", tmp_path / "data")
    return ToolBox(history_dir=tmp_path / "rec", notes_path=tmp_path / "notes" / "Moshi Notes.md",
                   clock=clock or Clock(), **kw)


def call(box, tool, **args):
    return box.call(tool, args, threading.Event())


def test_timers_fire_with_injected_clock_and_survive_restart(tmp_path):
    clock = Clock()
    box = box_for(tmp_path, clock, system=FakeSystem())
    r = call(box, "set_reminder", text="take the pasta out", minutes=10)
    assert not r.is_error and "take the pasta out" in r.text and "in 10 min" in r.text
    assert not call(box, "set_timer", seconds=90, label="tea").is_error
    assert not call(box, "set_reminder", text="call mum", at="2026-05-01T18:00").is_error
    assert box.due_reminders(clock()) == []
    listed = call(box, "list_reminders").text.splitlines()
    assert [line.split(": ", 1)[1].split(" at ")[0] for line in listed] == ["'Timer: tea'", "'take the pasta out'", "'call mum'"]

    clock.t += 100
    due = box.due_reminders(clock())
    assert [d.text for d in due] == ["Timer: tea"] and due[0].due_s == T0 + 90
    assert box.due_reminders(clock()) == []  # once only
    box.close()

    # A new session (restart) finds the rest in the data folder.
    clock.t += 600
    box2 = box_for(tmp_path, clock, system=FakeSystem())
    assert [d.text for d in box2.due_reminders(clock())] == ["take the pasta out"]
    saved = json.loads((tmp_path / "data" / "reminders.json").read_text())
    assert [r["text"] for r in saved["reminders"]] == ["call mum"]
    assert "cancelled" in call(box2, "cancel_reminder", reminder_id="mum").text.lower()
    assert call(box2, "list_reminders").text == "No timers or reminders are set."
    assert box_for(tmp_path, clock).pending_reminders() == []


def test_reminder_arguments_checked(tmp_path):
    box = box_for(tmp_path)
    for args, message in [({"text": "x"}, "delay"), ({"text": "x", "minutes": -5}, "delay"),
                          ({"text": "x", "at": "yesterday"}, "'at'"), ({"text": "x", "at": "2020-01-01T00:00"}, "past"),
                          ({"text": "x", "minutes": "ten"}, "number"), ({"minutes": 3}, "text")]:
        r = box.call("set_reminder", args, threading.Event())
        assert r.is_error and message in r.text, (args, r.text)
    assert box.call("cancel_reminder", {"reminder_id": "nope"}, threading.Event()).is_error
    at = call(box, "set_reminder", text="standup", at="8:30")  # before now (9:00): tomorrow
    assert not at.is_error and box.pending_reminders()[0].due_s == T0 + 23.5 * 3600


def test_get_time(tmp_path):
    box = box_for(tmp_path)
    assert "Friday 01 May 2026, 09:00:00" in call(box, "get_time").text
    tokyo = call(box, "get_time", timezone="Asia/Tokyo").text
    assert "UTC+09:00" in tokyo and "Asia/Tokyo" in tokyo
    assert call(box, "get_time", timezone="Mars/Olympus").is_error


def _session(folder, stem, started, lines, mode="talk", meta=True, name=""):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{stem}.txt").write_text("# Moshi conversation\n" + "".join(f"[{t}] {x}\n" for t, x in lines))
    if meta:
        (folder / f"{stem}.json").write_text(json.dumps({
            "format": "moshi-session", "version": 1, "mode": mode, "kind": "moshi", "model": "m",
            "started": started, "wav": None, "transcript": f"{stem}.txt", "name": name}))


def test_search_history(tmp_path):
    rec = tmp_path / "rec"
    _session(rec, "conversation-20260420-101500", "2026-04-20T10:15:00+02:00",
             [("00:00:01.000", "Hello there."), ("00:00:05.000", "Let's talk about the garden."),
              ("00:00:09.500", "The tomatoes need water every morning.")])
    _session(rec, "assistant-20260428-180000", "2026-04-28T18:00:00+02:00",
             [("00:00:02.000", "What should I cook tonight?"), ("00:00:04.000", "Tomatoes and pasta.")],
             mode="assistant", name="Dinner")
    _session(rec, "conversation-20260301-080000", "", [("00:00:01.000", "Old tomatoes chat.")], meta=False)
    (rec / "notes.txt").write_text("[00:00:01.000] tomatoes in a file that is not a session\n")
    box = box_for(tmp_path)

    text = call(box, "search_history", query="tomatoes").text
    heads = [line for line in text.splitlines() if not line.startswith("  ")]
    assert heads == ["2026-04-28 18:00 (assistant, 'Dinner')", "2026-04-20 10:15 (talk)", "2026-03-01 08:00 (talk)"]
    assert "[00:00:09] The tomatoes need water every morning." in text and "not a session" not in text
    both = call(box, "search_history", query="TOMATOES water").text
    assert both.startswith("2026-04-20 10:15") and "Dinner" not in both
    day = call(box, "search_history", query="", date="2026-04-28").text
    assert day.startswith("2026-04-28 18:00") and "garden" not in day
    assert "No session" in call(box, "search_history", query="submarine").text
    assert call(box, "search_history", query="x", date="28/04").is_error
    assert len(call(box, "search_history", query="tomatoes", max_results=1).text.split("\n2026")) == 1


def test_clipboard_open_and_notes(tmp_path):
    sysx = FakeSystem(answer=(0, "copied text", ""))
    box = box_for(tmp_path, system=sysx)
    assert call(box, "read_clipboard").text == "copied text"
    assert sysx.ran[-1][0] == "xclip"
    assert call(box, "open_url", url="https://example.com/a?b=c").text == "Opened https://example.com/a?b=c."
    assert sysx.ran[-1] == ["xdg-open", "https://example.com/a?b=c"]
    for bad in ("file:///etc/passwd", "javascript:alert(1)", "example.com", "https://", "http://a b"):
        assert call(box, "open_url", url=bad).is_error
    assert len(sysx.ran) == 2  # nothing run for a refused address
    assert call(box, "open_app", name="-rf /").is_error
    mac = FakeSystem(platform="darwin")
    assert not call(box_for(tmp_path, system=mac), "open_app", name="Safari").is_error
    assert mac.ran == [["open", "-a", "Safari"]]
    none = box_for(tmp_path, system=FakeSystem(tools=()))
    assert "xclip or xsel" in call(none, "read_clipboard").text

    old = os.umask(0o077)
    try:
        assert "Saved the note" in call(box, "save_note", text="buy milk").text
    finally:
        os.umask(old)
    call(box, "save_note", text="call Ana\nabout Friday")
    notes = tmp_path / "notes" / "Moshi Notes.md"
    assert notes.read_text() == "## 2026-05-01 09:00\n\nbuy milk\n\n## 2026-05-01 09:00\n\ncall Ana\nabout Friday\n"
    assert notes.stat().st_mode & 0o777 == 0o600  # the umask is respected
    assert call(box, "save_note", text="  ").is_error


def test_consent_policies(tmp_path):
    box = box_for(tmp_path, policies={"calculator": "never", "unknown_tool": "allow"})
    assert box.needs_consent("open_url") and box.needs_consent("save_note") and box.needs_consent("read_clipboard")
    assert not box.needs_consent("get_time") and not box.needs_consent("search_history")
    assert box.question("open_url", {"url": "https://example.com"}) == "May I open https://example.com?"
    box.allow_always("open_url")
    assert not box.needs_consent("open_url") and box.needs_consent("save_note")
    names = [s["function"]["name"] for s in box.schemas()]
    assert "calculator" not in names and "get_time" in names
    assert all(s["type"] == "function" and s["function"]["parameters"]["type"] == "object" for s in box.schemas())
    r = call(box, "calculator", expression="1+1")
    assert r.is_error and "does not allow" in r.text
    box.set_policy("calculator", "allow")
    assert call(box, "calculator", expression="1+1").text == "1+1 = 2"
    assert box.policies() == {"calculator": "allow"}
    with pytest.raises(ToolsError, match="'sometimes' is not one of"):
        box.set_policy("get_time", "sometimes")
    with pytest.raises(ToolsError, match="no tool named 'nope'"):
        box.set_policy("nope", "allow")
    info = {t.name: t for t in box.tools()}
    assert info["open_url"].policy == "ask" and info["open_url"].source == "built-in" and not info["open_url"].read_only
    box.set_builtins_enabled(False)
    assert box.schemas() == [] and call(box, "get_time").is_error
    assert call(box, "no_such_tool").is_error
    assert box.call("calculator", ["1+1"], threading.Event()).is_error  # arguments not an object


def test_select_and_results_capped(tmp_path):
    box = box_for(tmp_path, select=["calculator", "get_time"], max_result_chars=20)
    assert sorted(s["function"]["name"] for s in box.schemas()) == ["calculator", "get_time"]
    assert call(box, "save_note", text="x").is_error  # not offered: not callable either
    r = call(box, "calculator", expression="2**200")
    assert r.text.startswith("2**200 = 16069380442") and "[result cut:" in r.text
    with pytest.raises(ToolsError, match="--tools: no tool or MCP server named 'nope'"):
        box_for(tmp_path, select=["nope"])
