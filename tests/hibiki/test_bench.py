"""`bench lm` for Hibiki: guidance against no guidance in one run, Kyutai's generator with the
description condition and CFG, and the models Kyutai's generator cannot run."""

import argparse
import json
import subprocess
import sys

from moshi_mlx.bench import lm as bench_lm
from moshi_mlx.lm import LmConfig
from tests.lm.layouts import DESCRIPTION


def test_guidance_against_none_and_kyutai_with_guidance(tmp_path, capsys):
    # Hibiki's layout, widths divisible by the group size 32 (Kyutai's quantizer requires it)
    config = LmConfig.tiny(dim=128, depformer_dim=64, depformer_dim_feedforward=192, context=32,
                           delays=(0, 0) + (2,) * 7 + (0,) + (2,) * 7, conditioners=DESCRIPTION,
                           fuser={"sum": ["description"], "cross": [], "prepend": []})
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config.to_dict() | {"model_type": "hibiki"}))
    parser = argparse.ArgumentParser()
    bench_lm.configure_parser(parser)
    args = parser.parse_args(["--config", str(path), "--bits", "4", "--steps", "3", "--warmup", "1",
                              "--cfg-coef", "3", "--compare-cfg", "--compare-kyutai", "--repeats", "2",
                              "--no-split", "--json"])
    assert bench_lm.main(args) == 0
    result = json.loads(capsys.readouterr().out)
    cfg = result["cfg"]
    assert cfg["cfg_coef"] == 3 and all(len(v) == 2 and min(v) > 0 for v in cfg["ms"].values())
    assert cfg["ratio"] > 0
    assert cfg["kv_cache_bytes"]["cfg"] == 2 * cfg["kv_cache_bytes"]["plain"], "two rows, one cache each"
    assert result["kyutai"]["step_ms"]["n"] == 3 and result["ratio_vs_kyutai"] > 0
    assert bench_lm.kyutai_condition(config) == ["description", "very_good"]


def test_zero_is_not_compared_with_kyutai():
    r = subprocess.run([sys.executable, "-m", "moshi_mlx", "bench", "lm", "--config", "hibiki-zero",
                        "--compare-kyutai"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "grouped-query attention (kv_repeat)" in r.stderr and "rope_concat" in r.stderr
