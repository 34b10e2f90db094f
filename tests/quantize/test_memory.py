"""Streaming: converting a generated >= 1 GB bf16 checkpoint grows the peak RSS by less than half
of its size (measured in a fresh process: VmHWM after minus VmRSS before, /proc/self/status)."""

import json
import shutil
import subprocess
import sys

import pytest

from tests.quantize.checkpoints import (MIMI_NAME, TOKENIZER_NAME, meta_release_shapes, tiny_config,
                                        write_random_bf16_safetensors)

# Moshi's structure at dim 1024 with 25 layers: 1.02 GB of bf16 (largest tensor: text_emb, 66 MB)
BIG = dict(dim=1024, num_heads=8, num_layers=25, text_card=32000, card=2048, depformer_dim=512,
           depformer_num_heads=8, depformer_num_layers=2, depformer_dim_feedforward=int(4.125 * 512))

MEASURE = """
import json, sys
from moshi_quantize.convert import convert

def status(field):
    for line in open("/proc/self/status"):
        if line.startswith(field):
            return int(line.split()[1]) * 1024

src, out, bits = sys.argv[1], sys.argv[2], (None if sys.argv[3] == "none" else int(sys.argv[3]))
open("/proc/self/clear_refs", "w").write("5")  # reset the peak (VmHWM) to the current RSS
before = status("VmRSS:")
summary = convert(src, out, bits=bits)
print(json.dumps({"before": before, "peak": status("VmHWM:"), "input": summary.lm_input_bytes,
                  "output": summary.lm_output_bytes, "seconds": summary.seconds,
                  "bpw": summary.bits_per_weight}))
"""


@pytest.mark.slow
def test_peak_memory_growth_is_under_half_the_input(release_folder, tmp_path):
    src, _ = release_folder
    big = tmp_path / "big"
    big.mkdir()
    config = tiny_config(**BIG)
    size = write_random_bf16_safetensors(big / "model.safetensors", meta_release_shapes(config))
    assert size >= 1_000_000_000
    (big / "config.json").write_text(json.dumps(config.pytorch_kwargs()))
    for name in (MIMI_NAME, TOKENIZER_NAME):
        shutil.copy(src / name, big / name)
    for bits in (4, "none"):
        out = tmp_path / f"out-{bits}"
        result = subprocess.run([sys.executable, "-c", MEASURE, str(big), str(out), str(bits)],
                                capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, result.stderr
        m = json.loads(result.stdout.strip().splitlines()[-1])
        growth = m["peak"] - m["before"]
        print(f"bits={bits}: input {m['input'] / 1e9:.2f} GB -> {m['output'] / 1e9:.2f} GB, "
              f"peak RSS growth {growth / 1e6:.0f} MB, {m['seconds']:.1f} s, {m['bpw']:.2f} bits/weight")
        assert growth < m["input"] / 2, f"peak RSS grew by {growth / 1e6:.0f} MB"
        shutil.rmtree(out)
