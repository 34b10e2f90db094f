"""`run --image` with `demo-vis`: the image changes the conversation from call xa_start on, and
bad input is one clear error line."""

import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
from PIL import Image


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("vis")
    rng = np.random.default_rng(0)
    sf.write(d / "in.wav", (0.1 * rng.standard_normal(24000 * 2)).astype(np.float32), 24000)
    Image.fromarray(rng.integers(0, 255, (60, 80, 3), np.uint8)).save(d / "photo.png")
    (d / "notes.png").write_text("not a picture")
    return d


def _run(home, d, *extra, tag="a", model="demo-vis"):
    tok = d / f"{tag}.npy"
    r = subprocess.run([sys.executable, "-m", "moshi_mlx", "run", "--model", model, "--cache-dir", str(home),
                        "--input", str(d / "in.wav"), "--output", str(d / f"{tag}.wav"), "--tokens", str(tok),
                        "--greedy", "--quiet", *extra], capture_output=True, text=True, timeout=300)
    return r, (np.load(tok) if r.returncode == 0 else None)


def test_run_with_and_without_image(tmp_path, demo_models, files):
    home = demo_models.home(tmp_path / "home", "demo-vis")
    r, plain = _run(home, files, tag="plain")
    assert r.returncode == 0, r.stderr
    r, seen = _run(home, files, "--image", str(files / "photo.png"), tag="image")
    assert r.returncode == 0, r.stderr
    assert plain.shape == seen.shape == (9, 24)
    # xa_start 16: calls 0..15 are plain Moshi; column 15's acoustic codes come from call 16
    assert np.array_equal(plain[:, :15], seen[:, :15])
    assert not np.array_equal(plain[:, 15:], seen[:, 15:])


def test_bad_image_is_one_line(tmp_path, demo_models, files):
    home = demo_models.home(tmp_path / "home", "demo-vis")
    r, _ = _run(home, files, "--image", str(files / "notes.png"), tag="bad")
    assert r.returncode != 0
    errors = [line for line in r.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "not an image file" in errors[0] and "Traceback" not in r.stderr


def test_image_needs_a_moshivis_model(tmp_path, demo_models, files):
    home = demo_models.home(tmp_path / "home", "demo")
    r, _ = _run(home, files, "--image", str(files / "photo.png"), tag="moshi", model="demo")
    assert r.returncode != 0 and "image" in r.stderr and "Traceback" not in r.stderr


def test_chat_checks_the_image_first(tmp_path, demo_models, files):
    home = demo_models.home(tmp_path / "home", "demo-vis")
    r = subprocess.run([sys.executable, "-m", "moshi_mlx", "chat", "--model", "demo-vis", "--cache-dir", str(home),
                        "--image", str(files / "notes.png")], capture_output=True, text=True, timeout=120)
    assert r.returncode != 0 and "not an image file" in r.stderr and "Traceback" not in r.stderr


def test_image_console_lines():
    """chat's reader: one path per line, "-" / "none" for no image, blank lines skipped; after the
    conversation has ended, one error line."""
    import io

    from moshi_mlx.vis.cli import image_console

    class Engine:
        stopping = False
        asked: list = []

        def change(self, options):
            if options["image"] == "late.png":
                raise RuntimeError("no conversation is running: pass the options to start()")
            self.asked.append(options)

    err = io.StringIO()
    engine = Engine()
    image_console(engine, ["a.png\n", "\n", "-\n", "NONE\n", "late.png\n"], err).join(5)
    assert engine.asked == [{"image": "a.png"}, {"image": None}, {"image": None}]
    assert err.getvalue().strip() == "error: no conversation is running: pass the options to start()"
