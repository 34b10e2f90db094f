"""The released models' LM configurations (Kyutai's config.json `lm_kwargs`) as plain data: see
presets.py. Sources: ../shared/MODEL-CONFIGS.md (hash-verified for TTS 1.6B/0.75B and STT 2.6B; the
others from third-party files that quote the real ones, checked against published tensor counts)."""

from __future__ import annotations

_MOSHI_7B = {
    "dim": 4096, "text_card": 32000, "existing_text_padding_id": 3, "n_q": 16, "dep_q": 8, "card": 2048,
    "num_heads": 32, "num_layers": 32, "hidden_scale": 4.125, "context": 3000, "max_period": 10000,
    "gating": "silu", "norm": "rms_norm_f32", "positional_embedding": "rope", "depformer_dim": 1024,
    "depformer_dim_feedforward": 4224, "depformer_num_heads": 16, "depformer_num_layers": 6,
    "depformer_multi_linear": True, "depformer_max_period": 10000, "depformer_gating": "silu",
    "depformer_pos_emb": "none", "depformer_weights_per_step": True,
    "delays": [0, 0, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1, 1],
}
_DEPFORMER = {"depformer_dim": 1024, "depformer_num_heads": 16, "depformer_multi_linear": True,
              "depformer_pos_emb": "none", "depformer_weights_per_step": True}
_COMMON = {"card": 2048, "existing_text_padding_id": 3, "hidden_scale": 4.125, "gating": "silu",
           "norm": "rms_norm_f32", "positional_embedding": "rope"}
_DESCRIPTION = {"description": {"type": "lut", "lut": {
    "n_bins": 31, "dim": 16, "tokenizer": "noop",
    "possible_values": ["very_bad", "bad", "neutral", "good", "very_good"]}}}
_STT_GEN = {"temp": 0.0, "temp_text": 0.0, "top_k": 250, "top_k_text": 50}  # greedy text
_SUM_DESCRIPTION = {"cross_attention_pos_emb": False, "cross_attention_pos_emb_scale": 1,
                    "sum": ["description"], "prepend": [], "cross": []}


def _delays(given: int, generated: int, delay: int) -> list[int]:
    stream = lambda n: [0] + [delay] * (n - 1) if n else []  # noqa: E731
    return [0] + stream(generated) + stream(given)


PRESETS: dict[str, dict] = {
    "moshi-7b": dict(_MOSHI_7B),
    "personaplex-7b": dict(_MOSHI_7B, dep_q=16, model_type="personaplex"),
    "stt-1b": dict(_COMMON, **_DEPFORMER, n_q=32, dep_q=0, delays=[0] * 33, dim=2048, text_card=8000,
                   num_heads=16, num_layers=16, context=750, max_period=100000.0,
                   depformer_num_layers=6, depformer_dim_feedforward=None,
                   extra_heads_num_heads=4, extra_heads_dim=6, model_type="stt", lm_gen_config=_STT_GEN,
                   stt_config={"audio_delay_seconds": 0.5, "audio_silence_prefix_seconds": 0.0}),
    "stt-2.6b": dict(_COMMON, **_DEPFORMER, n_q=32, dep_q=0, delays=[0] * 33, dim=2048, text_card=4000,
                     num_heads=32, num_layers=48, context=375, max_period=100000.0,
                     depformer_num_layers=6, depformer_dim_feedforward=None, model_type="stt",
                     lm_gen_config=_STT_GEN,
                     stt_config={"audio_delay_seconds": 2.5, "audio_silence_prefix_seconds": 1.0}),
    "hibiki-1b": dict(_COMMON, **_DEPFORMER, n_q=16, dep_q=8, delays=_delays(8, 8, 2), dim=2048,
                      text_card=48000, num_heads=16, num_layers=16, context=1500, max_period=100000.0,
                      depformer_num_layers=6, depformer_dim_feedforward=None,
                      conditioners=_DESCRIPTION, fuser=_SUM_DESCRIPTION, model_type="hibiki"),
    "hibiki-2b": dict(_COMMON, **_DEPFORMER, n_q=32, dep_q=16, delays=_delays(16, 16, 2), dim=2560,
                      text_card=48000, num_heads=20, num_layers=24, context=1500, max_period=100000.0,
                      depformer_num_layers=4, depformer_dim_feedforward=3072,
                      depformer_low_rank_embeddings=128, conditioners=_DESCRIPTION,
                      fuser=_SUM_DESCRIPTION, model_type="hibiki",
                      depformer_weights_per_step_schedule=list(range(8)) + [8] * 8),
    "hibiki-zero": dict(_COMMON, **_DEPFORMER, n_q=32, dep_q=16, delays=_delays(16, 16, 2), dim=2048,
                        text_card=48000, num_heads=16, num_layers=28, hidden_scale=6, context=3000,
                        max_period=20000.0, positional_embedding="rope_concat", kv_repeat=2,
                        depformer_kv_repeat=1, depformer_num_layers=6, depformer_dim_feedforward=None,
                        depformer_norm="layer_norm", model_type="hibiki",
                        depformer_weights_per_step_schedule=list(range(8)) + [8] * 8),
    "tts-1.6b": dict(_COMMON, **_DEPFORMER, n_q=32, dep_q=32, delays=[0, 0] + [2] * 31, dim=2048,
                     text_card=8000, num_heads=16, num_layers=16, context=500, max_period=10000,
                     depformer_num_layers=4, depformer_dim_feedforward=3072,
                     depformer_low_rank_embeddings=128, demux_second_stream=True, cross_attention=True,
                     conditioners={
                         "speaker_wavs": {"type": "tensor", "tensor": {"dim": 512}},
                         "cfg": {"type": "lut", "lut": {"n_bins": 7, "dim": 16, "tokenizer": "noop",
                                 "possible_values": ["1.0", "1.5", "2.0", "2.5", "3.0", "3.5", "4.0"]}},
                         "control": {"type": "lut", "lut": {"dim": 2048, "n_bins": 1, "tokenizer": "noop",
                                     "possible_values": ["ok"]}}},
                     fuser={"cross_attention_pos_emb": True, "cross_attention_pos_emb_scale": 1,
                            "sum": ["control", "cfg"], "prepend": [], "cross": ["speaker_wavs"]},
                     depformer_weights_per_step_schedule=list(range(8)) + [8] * 8 + [9] * 8 + [10] * 8,
                     model_type="tts", tts_config={"audio_delay": 1.28, "second_stream_ahead": 2}),
    "tts-0.75b": dict(_COMMON, **_DEPFORMER, n_q=16, dep_q=16, delays=[0, 0] + [2] * 15, dim=1024,
                      text_card=8000, text_card_out=5, num_heads=16, num_layers=24, context=500,
                      max_period=10000, depformer_num_layers=4, depformer_dim_feedforward=3072,
                      depformer_low_rank_embeddings=128, demux_second_stream=True,
                      depformer_weights_per_step_schedule=list(range(8)) + [8] * 8,
                      model_type="tts", tts_config={"audio_delay": 1.28, "second_stream_ahead": 2}),
}


def kind_architecture(model_type: str | None) -> dict:
    """The architecture of a kind whose config.json holds metadata only (its record's
    `architecture`, e.g. NVIDIA's PersonaPlex: Moshi 7B with dep_q 16); {} for the others (Moshi's
    repos, without config.json, get LmConfig's defaults: Moshi 7B)."""
    from ..kinds import KINDS

    record = KINDS.get(model_type or "")
    return dict(PRESETS[record.architecture]) if record is not None and record.architecture else {}
