"""`bench stt` (file transcription speed) and `bench lm` on the STT structures, Kyutai's included."""

import argparse
import json

import pytest

from moshi_mlx.bench import lm as bench_lm
from moshi_mlx.stt import bench as bench_stt


def _args(module, argv):
    parser = argparse.ArgumentParser()
    module.configure_parser(parser)
    return parser.parse_args(argv)


def test_bench_stt_demo(demo_stt_home, capsys):
    args = _args(bench_stt, ["--model", "demo-stt", "--cache-dir", str(demo_stt_home), "--seconds", "2", "--json"])
    assert bench_stt.main(args) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["frames"] == (2 * 24000 + int(1.5 * 24000)) // 1920  # the trailing silence included
    assert r["speed_x_real_time"] == pytest.approx(2 / r["wall_s"])
    assert 0 < r["encode_ms"]["median"] < r["frame_ms"]["median"] * 1.5
    assert r["ten_minute_file_s"] > 0


def test_bench_lm_stt_structure_with_kyutai(capsys):
    """Kyutai's generator runs the STT 1B structure (dep_q 0, 32 codebooks in, extra heads computed
    every step) beside ours, greedy as the config's lm_gen_config says."""
    args = _args(bench_lm, ["--config", "stt-1b", "--dim", "128", "--bits", "4", "--steps", "2", "--warmup", "1",
                            "--no-split", "--compare-kyutai", "--json"])
    assert bench_lm.main(args) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["dim"] == 128 and r["layers"] == 16 and r["step_ms"]["n"] == 2
    assert r["kyutai"]["step_ms"]["n"] == 2 and r["ratio_vs_kyutai"] > 0
    assert bench_lm.text_sampling(bench_lm.bench_config(args)) == (0.0, 50)
