"""reminders.json shared by two stores (the app's, read before any session, and a session's
ToolBox): what one adds, cancels or delivers, the other sees; nothing is delivered twice or written
back once cancelled. The module imports no MLX (the app reads it)."""

import json
import subprocess
import sys

from moshi_mlx.tools.reminders import FILE_NAME, ReminderStore

T0 = 1_800_000_000.0


def test_two_stores_on_one_file_stay_consistent(tmp_path):
    path = tmp_path / FILE_NAME
    now = [T0]
    app, session = ReminderStore(path, lambda: now[0]), ReminderStore(path, lambda: now[0])
    tea = session.add("Timer: tea", T0 + 60)
    call = session.add("call mum", T0 + 600)
    assert [r.text for r in app.pending()] == ["Timer: tea", "call mum"]  # the session's, seen by the app
    assert app.cancel(call.reminder_id) is not None
    session.add("standup", T0 + 3600)  # the session's next write keeps the cancel
    assert [r["text"] for r in json.loads(path.read_text())["reminders"]] == ["Timer: tea", "standup"]
    now[0] = T0 + 61
    assert [r.reminder_id for r in app.due(now[0])] == [tea.reminder_id]
    assert session.due(now[0]) == []  # delivered once, by whichever asked first
    assert [r.text for r in session.pending()] == ["standup"]
    assert session.cancel(tea.reminder_id) is None


def test_a_store_sees_a_file_written_after_it_was_made(tmp_path):
    path = tmp_path / FILE_NAME
    reader = ReminderStore(path, lambda: T0)
    assert reader.pending() == []
    ReminderStore(path, lambda: T0).add("later", T0 + 5)
    assert [r.text for r in reader.pending()] == ["later"]
    path.write_text("{ damaged")
    assert reader.pending() == []  # a damaged file reads as empty, and is replaced at the next change
    reader.add("again", T0 + 9)
    assert [r["text"] for r in json.loads(path.read_text())["reminders"]] == ["again"]


def test_the_reminder_module_loads_no_mlx():
    code = ("import sys, moshi_mlx.tools.reminders\n"
            "assert not [m for m in sys.modules if m == 'mlx' or m.startswith(('mlx.', 'mlx_lm'))]\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
