"""STT models by Hugging Face repo id, through a local stand-in for the hub: downloaded (with a
progress bar), then transcribed; a repo of another kind is refused before anything is fetched."""

import json
from urllib.parse import unquote

import pytest

from moshi_mlx import hub
from moshi_mlx.cli import main as cli
from tests.support.fake_hub import FakeHub

REPO = "kyutai/stt-1b-en_fr-candle"


@pytest.fixture
def served(stt_models, monkeypatch):
    from huggingface_hub import constants

    folder, _, _ = stt_models("1b", "candle")
    files = {name: (folder / name).read_bytes() for name in hub.known_model(REPO).files}
    with FakeHub({REPO: files}) as server:
        monkeypatch.setattr(constants, "ENDPOINT", server.url)
        monkeypatch.setattr(constants, "HUGGINGFACE_CO_URL_TEMPLATE",
                            server.url + "/{repo_id}/resolve/{revision}/{filename}")
        monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
        monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
        yield server


def test_transcribe_downloads_a_repo_then_runs(served, tmp_path, speech_file, capsys):
    out = tmp_path / "t.json"
    assert cli(["transcribe", str(speech_file), "--model", REPO, "--cache-dir", str(tmp_path / "hf"),
                "-o", str(out)]) == 0
    err = capsys.readouterr().err
    assert "download" in err and "x real time" in err
    data = json.loads(out.read_text())
    assert data["model"] == REPO and data["end_of_turn_detection"] is True
    fetched = {unquote(r[1].rsplit("/", 1)[-1]) for r in served.requests if r[0] == "GET"}
    assert fetched == set(hub.known_model(REPO).files)
    # installed now: no request at all the second time
    n = len(served.requests)
    assert cli(["transcribe", str(speech_file), "--model", REPO, "--cache-dir", str(tmp_path / "hf"),
                "--quiet"]) == 0
    assert len(served.requests) == n


def test_other_kind_refused_before_download(served, tmp_path, speech_file, capsys):
    assert cli(["transcribe", str(speech_file), "--model", "kyutai/moshiko-mlx-q4", "--cache-dir",
                str(tmp_path / "hf")]) == 2
    assert "kyutai/moshiko-mlx-q4 is a speech-to-speech conversation model" in capsys.readouterr().err
    assert served.requests == [] and not (tmp_path / "hf").exists()
