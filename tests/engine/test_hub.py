"""Models: known list, memory advice, downloads (progress, cancel + resume, verification) against a
local fake hub, and offline resolution with HF_HUB_OFFLINE=1 against a cache the test builds."""

import json
import os
import subprocess
import sys
import threading

import pytest

from moshi_mlx import hub
from moshi_mlx.errors import CheckpointError, ModelNotAvailableError
from tests.support.fake_hub import COMMIT, FakeHub, point_hub_at

REPO = "kyutai/moshiko-mlx-q4"
GiB = 2**30


def _files(size=300_000):
    return {"model.q4.safetensors": os.urandom(size),
            hub.MIMI_FILE: os.urandom(size // 3),
            hub.TOKENIZER_FILE: os.urandom(1000)}


@pytest.fixture
def fake_hub(monkeypatch):
    with FakeHub({REPO: _files()}) as server:
        point_hub_at(monkeypatch, server)
        yield server


def test_known_models_and_sizes():
    moshi = {m.repo_id for m in hub.KNOWN_MODELS if m.kind == "moshi"}
    assert moshi == {f"kyutai/{v}-mlx-{q}" for v in ("moshiko", "moshika") for q in ("q4", "q8", "bf16")}
    kinds = {m.kind for m in hub.KNOWN_MODELS}
    assert kinds == {"moshi", "stt", "hibiki", "tts", "personaplex", "moshivis"}
    assert hub.known_model("nvidia/personaplex-7b-v1").gated
    q4 = hub.known_model(REPO)
    assert q4.bits == 4 and q4.files[0] == "model.q4.safetensors" and q4.voice == "male"
    assert 5.0e9 < q4.size_bytes < 5.4e9  # 4.81 GB LM + 385 MB Mimi + tokenizer
    assert hub.known_model("kyutai/moshika-mlx-bf16").size_bytes > 15e9


def test_recommend_by_memory():
    q4, q8, bf16 = (hub.known_model(f"kyutai/moshiko-mlx-{q}") for q in ("q4", "q8", "bf16"))
    assert hub.recommend(q4, 8 * GiB)[0] == "too_big"
    assert hub.recommend(q4, 16 * GiB)[0] == "ok"
    assert hub.recommend(q8, 16 * GiB)[0] == "tight"
    assert hub.recommend(bf16, 16 * GiB)[0] == "too_big"
    assert hub.recommend(bf16, 64 * GiB)[0] == "ok"
    verdict, sentence = hub.recommend(q4)  # this machine
    assert verdict in ("ok", "tight", "too_big") and "GB" in sentence


def test_download_progress_verify_and_install(fake_hub, tmp_path):
    calls = []
    assert not hub.is_installed(REPO, str(tmp_path))
    folder = hub.download(REPO, cache_dir=str(tmp_path), progress=lambda d, t: calls.append((d, t)))
    total = sum(len(v) for v in fake_hub.repos[REPO].values())
    assert calls[0] == (0, total) and calls[-1] == (total, total)
    assert all(a[0] <= b[0] for a, b in zip(calls, calls[1:]))
    assert len(calls) > 10, "progress must be reported per chunk"
    assert hub.is_installed(REPO, str(tmp_path))
    for name, data in fake_hub.repos[REPO].items():
        assert (folder / name).read_bytes() == data
    files = hub.resolve_model(REPO, cache_dir=str(tmp_path), allow_download=False)
    assert files.lm_path.name == "model.q4.safetensors" and files.config == {}
    assert files.mimi_path.name == hub.MIMI_FILE and files.tokenizer_path.name == hub.TOKENIZER_FILE
    n = len(fake_hub.requests)
    hub.download(REPO, cache_dir=str(tmp_path))  # present: no request at all
    assert len(fake_hub.requests) == n


def test_download_cancel_then_resume(fake_hub, tmp_path):
    cancel = threading.Event()
    seen = []

    def progress(done, total):
        seen.append(done)
        if done > 100_000:
            cancel.set()

    with pytest.raises(hub.DownloadCancelled):
        hub.download(REPO, cache_dir=str(tmp_path), progress=progress, cancel=cancel)
    partial = list(tmp_path.rglob("*.partial"))
    assert partial and partial[0].stat().st_size > 0
    assert not hub.is_installed(REPO, str(tmp_path))
    folder = hub.download(REPO, cache_dir=str(tmp_path))
    ranged = [r for r in fake_hub.requests if r[0] == "GET" and r[2]]
    assert ranged, "the second download must resume with a Range request"
    assert (folder / "model.q4.safetensors").read_bytes() == fake_hub.repos[REPO]["model.q4.safetensors"]


def test_download_rejects_corrupt_file(fake_hub, tmp_path):
    fake_hub.corrupt.add(hub.MIMI_FILE)
    with pytest.raises(CheckpointError, match="sha256"):
        hub.download(REPO, cache_dir=str(tmp_path))
    assert not hub.is_installed(REPO, str(tmp_path))


def test_download_unknown_repo_is_a_clear_error(fake_hub, tmp_path):
    with pytest.raises(ModelNotAvailableError, match="kyutai/nope"):
        hub.download("kyutai/nope-mlx-q4", cache_dir=str(tmp_path))
    assert any("/api/models/kyutai/nope-mlx-q4" in r[1] for r in fake_hub.requests)  # asked HF_ENDPOINT


def _build_cache(root, repo=REPO):
    """The hub cache layout: models--org--name/{blobs,snapshots/<commit>,refs/main}."""
    base = root / ("models--" + repo.replace("/", "--"))
    snap = base / "snapshots" / COMMIT
    snap.mkdir(parents=True)
    for name, data in _files(1000).items():
        (snap / name).write_bytes(data)
    (base / "refs").mkdir()
    (base / "refs" / "main").write_text(COMMIT)
    return snap


OFFLINE_SCRIPT = """
import json, sys
from moshi_mlx import hub
from moshi_mlx.errors import ModelNotAvailableError
out = {"installed": hub.is_installed(sys.argv[1]), "offline": hub.is_offline()}
f = hub.resolve_model(sys.argv[1])
out["lm"] = str(f.lm_path)
try:
    hub.resolve_model("kyutai/moshika-mlx-q8")
except ModelNotAvailableError as e:
    out["missing"] = str(e)
print(json.dumps(out))
"""


def test_offline_resolution_with_hf_hub_offline(tmp_path):
    snap = _build_cache(tmp_path)
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_HUB_CACHE=str(tmp_path),
               HF_ENDPOINT="http://127.0.0.1:9")  # nothing listens there: any request would fail
    r = subprocess.run([sys.executable, "-c", OFFLINE_SCRIPT, REPO], env=env, capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["installed"] and out["offline"]
    assert out["lm"] == str(snap / "model.q4.safetensors")
    assert "kyutai/moshika-mlx-q8" in out["missing"] and "--download" in out["missing"]


def test_models_cli_lists_installed(tmp_path):
    _build_cache(tmp_path)
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    r = subprocess.run([sys.executable, "-m", "moshi_mlx", "models", "--cache-dir", str(tmp_path)],
                       env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    line = next(l for l in r.stdout.splitlines() if l.startswith(REPO))
    assert " yes " in line and "GB" in line
    other = next(l for l in r.stdout.splitlines() if l.startswith("kyutai/moshika-mlx-bf16"))
    assert " no " in other
    assert "demo" in r.stdout and "noise" in r.stdout


def test_bad_model_spec_names_it(tmp_path):
    with pytest.raises(ModelNotAvailableError, match="not-a-model"):
        hub.resolve_model("not-a-model", cache_dir=str(tmp_path), allow_download=False)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(CheckpointError, match="empty"):
        hub.resolve_model(str(empty))


def test_engine_downloads_with_progress_then_reports_load_failure(fake_hub, tmp_path, monkeypatch):
    """The engine fetches a missing model (ProgressEvent in bytes); these fake files are not a
    model, which must arrive as a 'model_load' ErrorEvent naming the model, then 'stopped'."""
    from moshi_mlx.engine.conversation import ConversationEngine, EngineOptions

    monkeypatch.setattr(ConversationEngine, "_check_devices", lambda self, options: None)  # no devices here
    from moshi_mlx.engine.events import ErrorEvent, ProgressEvent, StateEvent
    from tests.engine.conftest import EventLog

    log = EventLog()
    engine = ConversationEngine(log)
    engine.start(EngineOptions(model=REPO, cache_dir=str(tmp_path)))
    assert log.wait_for(lambda e: isinstance(e, StateEvent) and e.state == "stopped", 120)
    engine.stop()
    progress = [e for e in log.of(ProgressEvent) if e.job == "download"]
    total = sum(len(v) for v in fake_hub.repos[REPO].values())
    assert progress and progress[-1].done == progress[-1].total == total and progress[-1].unit == "bytes"
    errors = log.of(ErrorEvent)
    assert len(errors) == 1 and errors[0].kind == "model_load" and errors[0].fatal
    assert "model.q4.safetensors" in errors[0].message or REPO in errors[0].message
    assert hub.is_installed(REPO, str(tmp_path))


def test_models_cli_download_respects_hf_endpoint(tmp_path):
    with FakeHub({REPO: _files()}) as server:
        env = dict(os.environ, HF_ENDPOINT=server.url)
        env.pop("HF_HUB_OFFLINE", None)
        r = subprocess.run([sys.executable, "-m", "moshi_mlx", "models", "--download", REPO,
                            "--cache-dir", str(tmp_path)], env=env, capture_output=True, text=True,
                           timeout=120)
        assert r.returncode == 0, r.stderr
        assert "ready in" in r.stdout and any(REPO in req[1] for req in server.requests)
    assert hub.is_installed(REPO, str(tmp_path))


def test_org_name_that_is_neither_folder_nor_reachable_repo_fails_at_once(tmp_path, monkeypatch):
    """`models/doesnotexist` reads as a relative path and as a repo id: with no such folder and no
    Hub to ask, one immediate error explains both (no ~23 s of retries)."""
    import time

    from huggingface_hub import constants

    monkeypatch.setattr(constants, "ENDPOINT", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setattr(constants, "HUGGINGFACE_CO_URL_TEMPLATE",
                        "http://127.0.0.1:9/{repo_id}/resolve/{revision}/{filename}")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "models").mkdir()
    t0 = time.monotonic()
    with pytest.raises(ModelNotAvailableError) as info:
        hub.resolve_model("models/doesnotexist", cache_dir=str(tmp_path / "cache"))
    assert time.monotonic() - t0 < 5
    msg = str(info.value)
    assert "not a local folder or file" in msg and str(tmp_path / "models" / "doesnotexist") in msg
    assert "as a Hugging Face repo id" in msg and "cannot be reached" in msg
    with pytest.raises(hub.HubUnavailable, match="cannot be reached to fetch kyutai/moshika-mlx-q8"):
        hub.download("kyutai/moshika-mlx-q8", cache_dir=str(tmp_path / "cache"))  # a known repo: same


def test_models_cli_download_of_an_unknown_repo(tmp_path):
    with FakeHub({REPO: _files()}) as server:
        env = dict(os.environ, HF_ENDPOINT=server.url)
        env.pop("HF_HUB_OFFLINE", None)
        r = subprocess.run([sys.executable, "-m", "moshi_mlx", "models", "--download", "kyutai/nope",
                            "--cache-dir", str(tmp_path)], env=env, capture_output=True, text=True,
                           timeout=120)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "no model repo kyutai/nope" in r.stderr
    assert "0.00" not in r.stderr and "models --download" not in r.stderr  # no empty bar, no loop
    env["HF_HUB_OFFLINE"] = "1"
    r = subprocess.run([sys.executable, "-m", "moshi_mlx", "models", "--download", "kyutai/nope",
                        "--cache-dir", str(tmp_path)], env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "offline mode is on" in r.stderr and "models --download" not in r.stderr
