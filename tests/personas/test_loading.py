"""PersonaPlex checkpoints: NVIDIA's metadata-only config.json gives the 7B with a 16-step depformer
(its 475-tensor layout plans through moshi-quantize), and the gated repo's 401/403 says what to do."""

import math

import pytest

from moshi_mlx import hub
from moshi_mlx.errors import ModelNotAvailableError
from moshi_mlx.lm.config import LmConfig
from moshi_mlx.lm.loading import resolve_checkpoint
from tests.support.fake_hub import FakeHub
from tests.engine.test_hub import fake_hub  # noqa: F401 (fixture)

REPO = "nvidia/personaplex-7b-v1"
NVIDIA_CONFIG = '{"model_type": "personaplex", "version": "7b-v1"}'


def test_nvidia_config_json_is_the_7b_with_16_depformer_steps(tmp_path):
    (tmp_path / "config.json").write_text(NVIDIA_CONFIG)
    (tmp_path / "model.safetensors").write_bytes(b"")
    files, config, quantization = resolve_checkpoint(tmp_path)
    assert files == [tmp_path / "model.safetensors"] and quantization is None
    assert (config.dim, config.num_layers, config.dep_q, config.n_q) == (4096, 32, 16, 16)
    assert config.extra == {"model_type": "personaplex", "version": "7b-v1"}


def test_release_layout_plans_for_conversion():
    """All 475 tensors of the release (names and shapes from Kyutai's LMModel with dep_q 16 on the
    meta device: the same module as NVIDIA's fork) map onto our model, q4 planned, nothing read."""
    import mlx.core as mx

    from moshi_quantize.lm_convert import plan_outputs
    from moshi_quantize.plan import make_plan
    from moshi_quantize.readers import TensorMeta
    from tests.quantize.checkpoints import meta_release_shapes

    config = LmConfig.from_dict({"model_type": "personaplex"})
    shapes = meta_release_shapes(config)
    assert len(shapes) == 475

    class Header:
        path = "model.safetensors"
        tensors = {k: TensorMeta(k, s, mx.bfloat16, 2 * math.prod(s)) for k, s in shapes.items()}

    _, planned, stats = plan_outputs(Header(), config, make_plan(4, None, None, None), mx.bfloat16)
    # the published file size, 16,742,874,000 bytes = the tensors + a JSON header of 475 entries
    assert 0 < 16_742_874_000 - stats.input_bytes < 100_000


@pytest.mark.parametrize("status", [401, 403])
def test_gated_repo_says_accept_the_licence_and_set_a_token(fake_hub, tmp_path, status):  # noqa: F811
    fake_hub.repos[REPO] = {"config.json": b"{}", "model.safetensors": b"x" * 1000}
    fake_hub.gated[REPO] = status
    with pytest.raises(ModelNotAvailableError) as e:
        hub.download(REPO, cache_dir=str(tmp_path))
    message = str(e.value)
    for words in (f"HTTP {status}", "gated", "licence", f"{fake_hub.url}/{REPO}", "HF_TOKEN",
                  "hf auth login"):
        assert words in message
    left = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert left == []  # nothing half-downloaded in the way


def test_conversion_from_the_repo_fetches_the_voices(tmp_path, monkeypatch):
    import huggingface_hub

    from moshi_quantize.sources import resolve

    for name in ("model.safetensors", "tokenizer-e351c8d8-checkpoint125.safetensors",
                 "tokenizer_spm_32k_3.model"):
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "config.json").write_text(NVIDIA_CONFIG)
    calls = []

    def fake_snapshot_download(repo_id, allow_patterns=None, **kwargs):
        calls.append(sorted(allow_patterns))
        return str(tmp_path)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_snapshot_download)
    resolve(REPO)
    assert calls[1] == sorted(["model.safetensors", "tokenizer-e351c8d8-checkpoint125.safetensors",
                               "tokenizer_spm_32k_3.model", "voices.tgz"])
