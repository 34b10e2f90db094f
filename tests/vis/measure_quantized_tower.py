"""Why MoshiVis's image tower stays float: the error a quantized tower adds to the cross-attention
source, on random weights (scaled by fan-in) at a width where the groups divide. Run by hand:
    .venv/bin/python tests/vis/measure_quantized_tower.py"""

import copy

import mlx.core as mx
import mlx.nn as nn
import numpy as np
from mlx.utils import tree_flatten, tree_map_with_path

from moshi_mlx.vis.config import SiglipConfig
from moshi_mlx.vis.modules import ImageProjection


def main():
    mx.random.seed(0)
    vision = SiglipConfig(hidden_size=384, intermediate_size=1536, num_hidden_layers=6,
                          num_attention_heads=6, image_size=224)
    proj = ImageProjection(vision, 512)
    proj.update(tree_map_with_path(
        lambda p, w: mx.random.normal(w.shape) / np.sqrt(np.prod(w.shape[1:])) if w.ndim >= 2 else w,
        proj.parameters()))
    pixels = mx.random.uniform(-1, 1, (1, 224, 224, 3))
    ref = np.array(proj(pixels))
    print(f"tower: {vision.num_hidden_layers} layers, width {vision.hidden_size}, "
          f"{vision.num_patches} tokens; {sum(v.size for _, v in tree_flatten(proj.parameters())) / 1e6:.1f} M parameters")
    for bits, group in ((8, 64), (4, 32)):
        q = copy.deepcopy(proj)
        nn.quantize(q, group_size=group, bits=bits, class_predicate=lambda p, m: isinstance(m, nn.Linear))
        out = np.array(q(pixels))
        rel = np.linalg.norm(out - ref) / np.linalg.norm(ref)
        cos = float(np.mean(np.sum(out * ref, -1) / (np.linalg.norm(out, axis=-1) * np.linalg.norm(ref, axis=-1))))
        print(f"q{bits}/g{group}: relative error of the projected tokens {rel:.4f}, mean cosine {cos:.5f}")


if __name__ == "__main__":
    main()
