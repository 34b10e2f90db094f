"""Kyutai Hibiki: speech translation (acoustic delay 2, a "description" condition for CFG)."""

from .base import DemoSpec, ModelKind

KIND = ModelKind(
    "hibiki", "speech translation", ("translate",), "translate", "demo-hibiki",
    demo_spec=DemoSpec(lm={
        "delays": (0, 0) + (2,) * 7 + (0,) + (2,) * 7, "max_period": 100_000,
        "conditioners": {"description": {"type": "lut", "lut": {
            "n_bins": 31, "dim": 16, "tokenizer": "noop",
            "possible_values": ["very_bad", "bad", "neutral", "good", "very_good"]}}},
        "fuser": {"sum": ["description"], "cross": [], "prepend": []}},
        metadata={"model_type": "hibiki"}),
    setup="moshi_mlx.hibiki.setup:HibikiSetup",
    lm_fixup="moshi_mlx.hibiki.setup:fix_loaded_lm")  # the EOS text embedding reads as PAD
