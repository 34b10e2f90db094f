"""`bench codec --repeats`: each backend runs N times (alternated), with CPU ms per frame."""

from moshi_mlx.bench import codec


def test_codec_bench_repeats_and_cpu_time():
    res = codec.run(frames_n=2, warmup=1, backends=("mlx",), repeats=2)
    entry = res["backends"]["mlx"]
    assert entry["encode_ms"]["n"] == entry["decode_ms"]["n"] == 4  # 2 frames x 2 runs
    assert entry["encode_cpu_ms"]["median"] > 0 and entry["decode_cpu_ms"]["median"] > 0
    assert len(entry["runs_cpu_ms"]) == len(entry["runs_wall_ms"]) == 2
    assert entry["codes_agree_with"] is None and "ratio_runs_mlx_vs_kyutai" not in res
