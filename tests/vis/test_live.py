"""A new image during a live conversation (virtual PulseAudio device, demo-vis):
ConversationEngine.change applies it on the MLX worker between two frames, says so with an
OptionsEvent, and the recording keeps each image with the time it was shown."""

import json

import numpy as np
import pytest
from PIL import Image

from moshi_mlx.engine.conversation import ConversationEngine, EngineOptions
from moshi_mlx.engine.events import ErrorEvent, OptionsEvent, StateEvent, StatsEvent

pytestmark = pytest.mark.audio


def test_image_changed_while_talking(virtual_audio_device, demo_models, event_log, tmp_path):
    home = demo_models.home(tmp_path / "home", "demo-vis")
    rng = np.random.default_rng(0)
    for name in ("a", "b"):
        Image.fromarray(rng.integers(0, 255, (30, 40, 3), np.uint8)).save(tmp_path / f"{name}.png")
    (tmp_path / "bad.png").write_text("not a picture")
    engine = ConversationEngine(event_log)
    with pytest.raises(RuntimeError, match="no conversation"):
        engine.change({"image": str(tmp_path / "b.png")})
    engine.start(EngineOptions(model="demo-vis", cache_dir=str(home), seed=1, aec=False,
                               record_dir=str(tmp_path / "rec"), kinds=("moshivis",),
                               kind_options={"image": str(tmp_path / "a.png")}))
    assert event_log.wait_for(lambda e: isinstance(e, StateEvent) and e.state == "running", 120), \
        event_log.events[-5:]
    assert event_log.wait_for(lambda e: isinstance(e, StatsEvent), 30)
    engine.change({"image": str(tmp_path / "b.png")})
    assert event_log.wait_for(lambda e: isinstance(e, OptionsEvent), 30), event_log.events[-5:]
    engine.change({"image": str(tmp_path / "bad.png")})  # refused on the worker; the talk goes on
    assert event_log.wait_for(lambda e: isinstance(e, ErrorEvent), 30), event_log.events[-5:]
    engine.change({"image": None})
    assert event_log.wait_for(lambda e: len(event_log.of(OptionsEvent)) == 2, 30)
    engine.stop()
    shown = event_log.of(OptionsEvent)
    assert [e.options for e in shown] == [{"image": str(tmp_path / "b.png")}, {"image": None}]
    assert 0 < shown[0].time_s <= shown[1].time_s
    errors = event_log.of(ErrorEvent)
    assert [(e.kind, e.fatal) for e in errors] == [("image", False)] and "not an image" in errors[0].message
    sidecar = next((tmp_path / "rec").glob("*.json"))
    images = json.loads(sidecar.read_text())["images"]
    assert [i["time_s"] for i in images] == [0.0, round(shown[0].time_s, 3), round(shown[1].time_s, 3)]
    assert images[2]["file"] is None
    for entry, original in zip(images[:2], ("a.png", "b.png")):
        assert (tmp_path / "rec" / entry["file"]).read_bytes() == (tmp_path / original).read_bytes()
    assert set(engine.recording_paths) >= {"wav", "transcript", "image-1", "image-2"}


def test_chat_takes_a_new_image_per_line(virtual_audio_device, demo_models, tmp_path):
    """`chat --image a.png` with a MoshiVis model: a path typed while talking is shown from the
    next frame on; a bad one is one warning line and the talk goes on."""
    import subprocess
    import sys

    home = demo_models.home(tmp_path / "home", "demo-vis")
    Image.new("RGB", (30, 20), "red").save(tmp_path / "a.png")
    Image.new("RGB", (30, 20), "blue").save(tmp_path / "b.png")
    (tmp_path / "bad.png").write_text("not a picture")
    typed = f"{tmp_path / 'bad.png'}\n{tmp_path / 'b.png'}\n"
    r = subprocess.run([sys.executable, "-m", "moshi_mlx", "chat", "--model", "demo-vis", "--cache-dir", str(home),
                        "--image", str(tmp_path / "a.png"), "--duration", "4", "--no-stats", "--no-aec"],
                       input=typed, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert f"now showing {tmp_path / 'b.png'}" in r.stderr
    warnings = [line for line in r.stderr.splitlines() if line.startswith("warning (image):")]
    assert len(warnings) == 1 and "not an image file" in warnings[0] and "Traceback" not in r.stderr
