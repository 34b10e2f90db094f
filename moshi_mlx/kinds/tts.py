"""Kyutai TTS: text to speech. Its demo (`demo-tts`) has TTS 1.6B's structure at a tiny size: 32
codebooks, the real delays (1.28 s), the look-ahead text stream, speaker embeddings by
cross-attention, the cfg and control LUTs, and two random voices (moshi_mlx/tts/demo.py)."""

from .base import DemoSpec, ModelKind

SPEAKER_DIM = 32
SIG, EPOCH = "00de0000", 1
VOICES = ("demo/voice-1.wav", "demo/voice-2.wav")

DEMO_LM = dict(
    n_q=32, dep_q=32, delays=[0, 0] + [2] * 31, context=64, text_card=256, demux_second_stream=True,
    depformer_low_rank_embeddings=8, cross_attention=True,
    depformer_weights_per_step_schedule=list(range(8)) + [8] * 8 + [9] * 8 + [10] * 8,
    conditioners={
        "speaker_wavs": {"type": "tensor", "tensor": {"dim": SPEAKER_DIM}},
        "cfg": {"type": "lut", "lut": {"n_bins": 7, "dim": 16, "tokenizer": "noop",
                                       "possible_values": ["1.0", "1.5", "2.0", "2.5", "3.0", "3.5", "4.0"]}},
        "control": {"type": "lut", "lut": {"dim": 64, "n_bins": 1, "tokenizer": "noop",
                                           "possible_values": ["ok"]}}},
    fuser={"cross_attention_pos_emb": True, "cross_attention_pos_emb_scale": 1,
           "sum": ["control", "cfg"], "prepend": [], "cross": ["speaker_wavs"]})
DEMO_METADATA = {"model_type": "tts",
                 "tts_config": {"audio_delay": 1.28, "second_stream_ahead": 2, "default_voice": VOICES[0]},
                 "model_id": {"sig": SIG, "epoch": EPOCH}}

KIND = ModelKind(
    "tts", "text to speech", ("say",), "read", "demo-tts",
    demo_spec=DemoSpec(lm=DEMO_LM, metadata=DEMO_METADATA, mimi_codebooks=32,
                       extras="moshi_mlx.tts.demo:make_voices"),
    setup="moshi_mlx.tts.setup:TtsSetup")  # conditions, CFG, codebooks and the synthesizer's hooks
