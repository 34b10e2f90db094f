"""Tiny random configs with the stream layouts and options of every released model kind."""

from __future__ import annotations

from moshi_mlx.lm import LmConfig

DESCRIPTION = {"description": {"type": "lut", "lut": {
    "n_bins": 31, "dim": 16, "tokenizer": "noop",
    "possible_values": ["very_bad", "bad", "neutral", "good", "very_good"]}}}
TTS_CONDITIONERS = {
    "speaker_wavs": {"type": "tensor", "tensor": {"dim": 12}},
    "cfg": {"type": "lut", "lut": {"n_bins": 7, "dim": 16, "tokenizer": "noop",
                                   "possible_values": ["1.0", "1.5", "2.0", "2.5", "3.0", "3.5", "4.0"]}},
    "control": {"type": "lut", "lut": {"dim": 64, "n_bins": 1, "tokenizer": "noop", "possible_values": ["ok"]}},
}


def _delays(n_user: int, n_gen: int, delay: int) -> tuple[int, ...]:
    stream = lambda n: (0,) + (delay,) * (n - 1) if n else ()  # noqa: E731
    return (0,) + stream(n_gen) + stream(n_user)


LAYOUTS: dict[str, LmConfig] = {
    # STT: no depformer, 32 codebooks in, no delays, extra heads (end of turn)
    "stt": LmConfig.tiny(n_q=32, dep_q=0, delays=(0,) * 33, max_period=100_000,
                         extra_heads_num_heads=4, extra_heads_dim=6),
    # Hibiki 1B: delay 2, a LUT condition summed into every frame, classifier-free guidance
    "hibiki": LmConfig.tiny(delays=_delays(8, 8, 2), max_period=100_000, conditioners=DESCRIPTION,
                            fuser={"sum": ["description"], "cross": [], "prepend": []}),
    # Hibiki 2B: 16 + 16 codebooks, low-rank depformer tables, a weight schedule
    "hibiki_2b": LmConfig.tiny(n_q=32, dep_q=16, delays=_delays(16, 16, 2), depformer_num_layers=1,
                               depformer_low_rank_embeddings=8, conditioners=DESCRIPTION,
                               depformer_weights_per_step_schedule=tuple(range(8)) + (8,) * 8,
                               fuser={"sum": ["description"], "cross": [], "prepend": []}),
    # Hibiki-Zero: grouped-query attention, split-half RoPE, depformer LayerNorms, hidden_scale 6
    "zero": LmConfig.tiny(n_q=32, dep_q=16, delays=_delays(16, 16, 2), hidden_scale=6,
                          kv_repeat=2, depformer_kv_repeat=1, positional_embedding="rope_concat",
                          max_period=20_000, depformer_norm="layer_norm", depformer_num_layers=1,
                          depformer_dim_feedforward=None,
                          depformer_weights_per_step_schedule=tuple(range(8)) + (8,) * 8),
    # TTS: no user stream, muxed look-ahead text, cross-attention on speakers, LUT conditions
    "tts": LmConfig.tiny(n_q=8, dep_q=8, delays=(0, 0) + (2,) * 7, demux_second_stream=True,
                         depformer_low_rank_embeddings=8, conditioners=TTS_CONDITIONERS,
                         cross_attention=True, depformer_weights_per_step_schedule=(0, 1, 2, 3, 4, 4, 4, 4),
                         fuser={"cross_attention_pos_emb": True, "cross_attention_pos_emb_scale": 1,
                                "sum": ["control", "cfg"], "prepend": [], "cross": ["speaker_wavs"]}),
    # PersonaPlex: Moshi's layout with a 16-step depformer (Moshi's 8, then the user's 8)
    "personaplex": LmConfig.tiny(dep_q=16),
}
