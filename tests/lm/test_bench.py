"""`moshi-mlx bench lm` runs end to end on a small config file, Kyutai's generator included."""

import argparse
import json

from moshi_mlx.bench import lm as bench_lm
from moshi_mlx.lm import LmConfig


def test_bench_lm_json(tmp_path, capsys):
    # input widths divisible by the group size 32 (Kyutai's quantizer requires it)
    config = LmConfig.tiny(dim=128, depformer_dim=64, depformer_dim_feedforward=192, context=32)
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config.to_dict()))
    parser = argparse.ArgumentParser()
    bench_lm.configure_parser(parser)
    args = parser.parse_args(["--config", str(path), "--bits", "4", "--steps", "3", "--warmup", "1",
                              "--compare-kyutai", "--json"])
    assert bench_lm.main(args) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["dim"] == 128 and result["bits"] == 4 and result["group_size"] == 32
    assert result["step_ms"]["n"] == 3 and result["step_ms"]["median"] > 0
    assert set(result["split_ms"]) == {"temporal", "depformer", "sampling", "matmuls"}
    assert result["memory"]["kv_cache_full_context_bytes"] == 2 * 2 * 4 * 32 * 32 * 4  # layers, k/v, heads, C, Dh, f32
    assert result["memory"]["weights_bytes"] > 0
    assert result["kyutai"]["step_ms"]["n"] == 3 and result["ratio_vs_kyutai"] > 0
    runs = result["repeats"]["ms"]
    assert all(len(v) == 1 and v[0] > 0 for v in runs.values())  # Kyutai's floor measured on its model
    above = result["repeats"]["above_floor_ms"]
    assert above["ours"] == runs["ours"][0] - runs["ours_floor"][0]
