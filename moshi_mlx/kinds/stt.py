"""Kyutai STT: speech to text (32 codebooks in, no depformer, end-of-turn heads)."""

from .base import DemoSpec, ModelKind

KIND = ModelKind(
    "stt", "speech to text", ("transcribe", "listen"), "transcribe", "demo-stt",
    demo_spec=DemoSpec(
        lm=dict(n_q=32, dep_q=0, delays=(0,) * 33, max_period=100_000,
                extra_heads_num_heads=4, extra_heads_dim=6),
        metadata={"model_type": "stt",
                  "lm_gen_config": {"temp": 0.0, "temp_text": 0.0, "top_k": 250, "top_k_text": 50},
                  "stt_config": {"audio_delay_seconds": 0.5, "audio_silence_prefix_seconds": 0.0}},
        mimi_codebooks=32))
