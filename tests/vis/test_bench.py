"""`bench lm --config moshivis`: the image's one-time cost and the step with vs without it."""

import json
import subprocess
import sys


def test_bench_reports_the_image():
    r = subprocess.run([sys.executable, "-m", "moshi_mlx", "bench", "lm", "--config", "moshivis", "--dim", "64",
                        "--steps", "2", "--warmup", "1", "--repeats", "2", "--no-split", "--json"],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    result = json.loads(r.stdout)
    image = result["image"]
    assert image["image_tokens"] == 1024 and image["encode_ms"] > 0 and image["cross_kv_ms"] >= 0
    assert len(image["ms"]["image"]) == len(image["ms"]["plain"]) == 2 and image["ratio"] > 0
    assert image["ratio_of_medians"] > 0
