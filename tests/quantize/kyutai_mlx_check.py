"""Run with PYTHONPATH=.venv/kyutai-moshi-mlx (there `moshi_mlx` is Kyutai's MLX port, not ours).

argv: converted folder, PyTorch release file, Kyutai lm_kwargs as JSON. Loads the converted file
the way Kyutai's runtime loads moshiko-mlx-q4/q8/bf16 (file name -> nn.quantize, strict
load_weights), and compares every parameter with Kyutai's own conversion of the PyTorch file
(load_pytorch_weights, then nn.quantize with the same bits). Prints OK or raises."""

import json
import sys

import mlx.core as mx
import mlx.nn as nn
from mlx.utils import tree_flatten
from moshi_mlx import models

folder, pytorch_file, kwargs = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
name = json.load(open(f"{folder}/config.json"))["moshi_name"]
q = {"model.q4.safetensors": (4, 32), "model.q8.safetensors": (8, 64)}.get(name)

cfg = models.LmConfig.from_config_dict(kwargs)
ours = models.Lm(cfg)
ours.set_dtype(mx.bfloat16)
if q:
    nn.quantize(ours, bits=q[0], group_size=q[1])
ours.load_weights(f"{folder}/{name}", strict=True)

theirs = models.Lm(cfg)
theirs.set_dtype(mx.bfloat16)
theirs.load_pytorch_weights(pytorch_file, cfg, strict=True)
if q:
    nn.quantize(theirs, bits=q[0], group_size=q[1])

a, b = dict(tree_flatten(ours.parameters())), dict(tree_flatten(theirs.parameters()))
assert set(a) == set(b), sorted(set(a) ^ set(b))[:5]
for k in a:
    assert a[k].dtype == b[k].dtype and a[k].shape == b[k].shape, (k, a[k].dtype, b[k].dtype)
    assert mx.array_equal(a[k], b[k]).item(), k
print("OK", name, len(a))
