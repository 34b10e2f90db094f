"""The real Moshi 7B layout, planned from a header-only (sparse) release file: what --bits 4/8 write
matches Kyutai's moshiko-mlx-q4/q8 files (every Linear and Embedding quantized, same sizes)."""

import json
import math
import struct

import mlx.core as mx
import pytest

from moshi_mlx.lm import LmConfig
from moshi_quantize.lm_convert import plan_outputs
from moshi_quantize.plan import make_plan
from moshi_quantize.readers import open_reader
from tests.quantize.checkpoints import meta_release_shapes


@pytest.mark.slow
def test_moshi_7b_plan_matches_kyutai_mlx_releases(tmp_path):
    config = LmConfig.moshi_7b()
    header, offset = {}, 0
    for name, shape in meta_release_shapes(config).items():
        n = math.prod(shape) * 2
        header[name] = {"dtype": "BF16", "shape": list(shape), "data_offsets": [offset, offset + n]}
        offset += n
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    path = tmp_path / "model.safetensors"
    with open(path, "wb") as f:  # sparse: 15.4 GB on paper, nothing on disk
        f.write(struct.pack("<Q", len(raw)) + raw)
        f.truncate(8 + len(raw) + offset)
    reader = open_reader(path)
    assert sum(m.nbytes for m in reader.tensors.values()) == pytest.approx(15.4e9, rel=0.01)
    # Kyutai's file sizes: model.q4.safetensors 4.81 GB, model.q8.safetensors 8.17 GB
    for bits, kyutai_bytes, bpw in ((4, 4.81e9, 5.0), (8, 8.17e9, 8.5)):
        _, planned, stats = plan_outputs(reader, config, make_plan(bits, None), mx.bfloat16)
        assert stats.parameters == 7_687_729_152
        assert stats.quantized == 337 + 25 and stats.kept_float == 0
        size = sum(p.nbytes for p in planned)
        assert size == pytest.approx(kyutai_bytes, rel=0.002)
        assert 8 * size / stats.parameters == pytest.approx(bpw, abs=0.01)
        scales = [p for p in planned if p.name.endswith(".scales")]
        assert len(scales) == 362 and all(p.dtype == mx.bfloat16 for p in scales)
    reader.close()
