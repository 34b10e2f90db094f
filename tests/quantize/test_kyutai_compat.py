"""The default --bits 4 / --bits 8 / unquantized outputs load like Kyutai's moshiko-mlx-q4/q8/bf16
files in Kyutai's own MLX runtime, with exactly the values Kyutai's runtime computes itself."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from moshi_quantize.convert import convert
from tests.quantize.checkpoints import tiny_config

ROOT = Path(__file__).resolve().parents[2]
KYUTAI = ROOT / ".venv" / "kyutai-moshi-mlx"


@pytest.mark.parametrize("bits", [None, 4, 8])
def test_kyutai_mlx_runtime_loads_the_output(release_folder, out_parent, bits):
    assert (KYUTAI / "moshi_mlx").is_dir(), f"Kyutai's moshi-mlx is missing from {KYUTAI} (run make setup)"
    src, _ = release_folder
    out = out_parent / f"q{bits}"
    convert(str(src), out, bits=bits)
    env = {**os.environ, "PYTHONPATH": str(KYUTAI)}
    result = subprocess.run(
        [sys.executable, str(Path(__file__).with_name("kyutai_mlx_check.py")), str(out),
         str(src / "model.safetensors"), json.dumps(tiny_config().pytorch_kwargs())],
        env=env, cwd=str(out_parent), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0 and "OK" in result.stdout, result.stdout + result.stderr
