"""The models this program knows by repo id: Kyutai's MLX Moshi releases and the rest of the family
(kind, files, download size, memory beyond the weights, gated or not), and the memory advice the
`models` command and the app's model manager give for them."""

from __future__ import annotations

import os
from dataclasses import dataclass

MIMI_FILE = "tokenizer-e351c8d8-checkpoint125.safetensors"
TOKENIZER_FILE = "tokenizer_spm_32k_3.model"
_MIMI_BYTES = 384_600_000
_TOKENIZER_BYTES = 553_000
GB = 1_000_000_000

# The 7B temporal transformer's KV cache per frame of context (32 layers, keys and values of 32 heads
# x 128), as `bench lm --config 7b --bits 4 --kv-bits 8 --compare-kv` measures it
# (docs/performance.md#quantized-kv-cache-item-3): the 16-bit ring, and the 8-bit one with its scales
# and biases (float32 on the CPU; bfloat16 on a Mac, 5% smaller).
KV_BYTES_PER_FRAME_7B = {16: 524_288, 8: 294_912}
CONTEXT_7B = 3000
# Beyond the weights and the cache, for the 7B: the step's transients at the full context (MLX peak
# minus what was resident and the cache: about 1 MB in that measurement) and Mimi's streaming state
# and activations (not measured there): a 0.1 GB allowance.
STEP_BYTES_7B = 100_000_000


def kv_cache_bytes_7b(kv_bits: int | None = None) -> int:
    """A 7B's KV cache at its full context: 16-bit, or quantized to `kv_bits` (4 bits, not
    measured, count as 8: an upper bound)."""
    return KV_BYTES_PER_FRAME_7B[8 if kv_bits else 16] * CONTEXT_7B


RUNTIME_7B = kv_cache_bytes_7b() + STEP_BYTES_7B


@dataclass(frozen=True)
class KnownModel:
    repo_id: str
    label: str
    voice: str
    bits: int
    size_bytes: int
    files: tuple[str, ...]  # () = whatever model files the repo holds (listed at download time)
    kind: str = "moshi"  # moshi_mlx.kinds: what the model does (its config.json model_type)
    runtime_bytes: int = RUNTIME_7B  # memory beyond the weights: KV cache, activations, codec
    gated: bool = False  # the Hub wants the licence accepted and a token (HF_TOKEN)
    kv_7b: bool = True  # its runtime holds a 7B's 16-bit KV cache (which --kv-bits 8 shrinks)


def _known(voice_name: str, voice: str, bits: int, lm_file: str, lm_bytes: int) -> KnownModel:
    kind = {4: "4-bit", 8: "8-bit", 16: "bf16"}[bits]
    suffix = {4: "q4", 8: "q8", 16: "bf16"}[bits]
    return KnownModel(
        repo_id=f"kyutai/{voice_name}-mlx-{suffix}",
        label=f"{voice_name.capitalize()} 7B, {kind} ({voice} voice)",
        voice=voice, bits=bits, size_bytes=lm_bytes + _MIMI_BYTES + _TOKENIZER_BYTES,
        files=(lm_file, MIMI_FILE, TOKENIZER_FILE))


KNOWN_MODELS: tuple[KnownModel, ...] = tuple(
    _known(name, voice, bits, lm_file, lm_bytes)
    for name, voice in (("moshiko", "male"), ("moshika", "female"))
    for bits, lm_file, lm_bytes in ((4, "model.q4.safetensors", 4_810_000_000),
                                    (8, "model.q8.safetensors", 8_170_000_000),
                                    (16, "model.safetensors", 15_400_000_000)))

_MIMI_PT = "mimi-pytorch-e351c8d8@125.safetensors"


def _family(repo_id: str, kind: str, label: str, lm_bytes: int, files: tuple[str, ...] = (),
            runtime_bytes: int = 600_000_000, bits: int = 16, gated: bool = False,
            kv_7b: bool = False) -> KnownModel:
    return KnownModel(repo_id, label, "-", bits, lm_bytes + _MIMI_BYTES + _TOKENIZER_BYTES, files,
                      kind, runtime_bytes, gated, kv_7b)


# The rest of the family (bf16 releases; sizes of the LM files from their Hub listings).
KNOWN_MODELS += (
    _family("kyutai/stt-1b-en_fr", "stt", "Kyutai STT 1B, English + French", 1_978_423_520,
            ("config.json", "model.safetensors", _MIMI_PT, "tokenizer_en_fr_audio_8000.model")),
    _family("kyutai/stt-1b-en_fr-candle", "stt", "Kyutai STT 1B, English + French, with end-of-turn "
            "detection", 1_978_522_200,
            ("config.json", "model.safetensors", _MIMI_PT, "tokenizer_en_fr_audio_8000.model")),
    _family("kyutai/stt-2.6b-en", "stt", "Kyutai STT 2.6B, English", 5_234_275_128,
            ("config.json", "model.safetensors", _MIMI_PT, "tokenizer_en_audio_4000.model")),
    _family("kyutai/hibiki-1b-pytorch-bf16", "hibiki", "Hibiki 1B, French to English", 3_600_000_000,
            ("config.json", "hibikim-pytorch-37c6cfd6@200.safetensors", _MIMI_PT,
             "tokenizer_spm_48k_multi6_2.model")),
    _family("kyutai/hibiki-2b-pytorch-bf16", "hibiki", "Hibiki 2B, French to English", 5_574_762_720,
            ("config.json", "hibiki-pytorch-ccef4858@200.safetensors", _MIMI_PT,
             "tokenizer_spm_48k_multi6_2.model"), runtime_bytes=1_200_000_000),
    _family("kyutai/hibiki-1b-mlx-bf16", "hibiki", "Hibiki 1B, French to English (Kyutai's MLX form)",
            3_600_043_224, ("config.json", "hibiki-mlx-dc2cf5a5@80.safetensors",
                            "mimi-dbaa9758@125.safetensors", "tokenizer_spm_48k_multi6_2.model")),
    _family("kyutai/hibiki-2b-mlx-bf16", "hibiki", "Hibiki 2B, French to English (Kyutai's MLX form)",
            5_574_762_720, runtime_bytes=1_200_000_000),
    _family("kyutai/hibiki-zero-3b-pytorch-bf16", "hibiki", "Hibiki-Zero 3B, French/Spanish/"
            "Portuguese/German to English", 6_263_000_000, runtime_bytes=1_200_000_000),
    _family("kyutai/tts-1.6b-en_fr", "tts", "Kyutai TTS 1.6B, English + French", 3_683_719_712,
            ("config.json", "dsm_tts_1e68beda@240.safetensors", MIMI_FILE,
             "tokenizer_spm_8k_en_fr_audio.model")),
    _family("kyutai/tts-0.75b-en-public", "tts", "Kyutai TTS 0.75B, English (public data)",
            1_560_040_168, ("config.json", "dsm_tts_d6ef30c7@1000.safetensors", MIMI_FILE,
                            "tokenizer_spm_8k_en_fr_audio.model")),
    _family("nvidia/personaplex-7b-v1", "personaplex", "PersonaPlex 7B (NVIDIA), voices and roles",
            16_742_874_000, ("config.json", "model.safetensors", MIMI_FILE, TOKENIZER_FILE, "voices.tgz"),
            runtime_bytes=RUNTIME_7B, gated=True, kv_7b=True),
    # MoshiVis: Moshi 7B + SigLIP (no config.json: its keys say what it is, moshi_mlx/vis/loading.py);
    # moshi-quantize makes a 4- or 8-bit folder of it (the image tower stays bf16)
    _family("kyutai/moshika-vis-pytorch-bf16", "moshivis", "MoshiVis 7B (Moshika + image), bf16",
            17_000_000_000, ("model.safetensors", MIMI_FILE, TOKENIZER_FILE),
            runtime_bytes=RUNTIME_7B + 200_000_000, kv_7b=True),  # + the image tower's activations
)


def total_memory() -> int | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def needed_bytes(known: KnownModel, kv_bits: int | None = None) -> int:
    """Weights plus runtime memory; with `kv_bits` (8), a 7B's KV cache quantized (--kv-bits)."""
    need = known.size_bytes + known.runtime_bytes
    if kv_bits and known.kv_7b:
        need -= kv_cache_bytes_7b() - kv_cache_bytes_7b(kv_bits)
    return need


def recommend(known: KnownModel, total_memory_bytes: int | None = None,
              kv_bits: int | None = None) -> tuple[str, str]:
    """('ok'|'tight'|'too_big', a sentence) for running `known` on a machine with this much RAM.
    Apple GPUs may use about 70% of unified memory; the model needs its weights plus its runtime
    memory (Moshi 7B: 1.6 GB of 16-bit KV cache at the full 3000-frame context, measured, 0.9 GB
    at 8 bits with `kv_bits`, plus activations). A 7B that does not fit comfortably is told what
    `--kv-bits 8` would need."""
    total = total_memory_bytes if total_memory_bytes is not None else total_memory()
    need = needed_bytes(known, kv_bits)
    verdict, sentence = _verdict(need, total)
    if verdict != "ok" and known.kv_7b and not kv_bits:
        sentence += f" (with --kv-bits 8: about {needed_bytes(known, 8) / GB:.1f} GB)"
    return verdict, sentence


def _verdict(need: int, total: int | None) -> tuple[str, str]:
    if total is None:
        return "tight", f"needs about {need / GB:.1f} GB of memory; this machine's size is unknown"
    ram = f"{total / 2**30:.0f} GB"
    if need <= 0.55 * total:
        return "ok", f"fits comfortably in {ram}: needs about {need / GB:.1f} GB"
    if need <= 0.72 * total:
        return "tight", (f"needs about {need / GB:.1f} GB of {ram}: close other apps; "
                         "a smaller (4-bit) model is safer")
    return "too_big", (f"needs about {need / GB:.1f} GB, too much for {ram}; "
                       "choose a 4-bit model or a Mac with more memory")


# ---- chat models for the assistant (mlx-lm; any mlx-lm repo or folder works, these are advice) ----

@dataclass(frozen=True)
class KnownLLM:
    repo_id: str
    label: str
    size_bytes: int  # download, approximate
    min_ram_gb: int  # the Mac to run it beside the STT 1B and the TTS 1.6B
    tool_calling: bool
    memory_note: str = ""


DEFAULT_LLM = "mlx-community/Qwen3-4B-Instruct-2507-4bit"

# Kept apart from KNOWN_MODELS: those are Kyutai-family releases (kinds in moshi_mlx.kinds, Mimi files).
LLM_MODELS: tuple[KnownLLM, ...] = (
    KnownLLM(DEFAULT_LLM, "Qwen3 4B Instruct (2507), 4-bit", 2_260_000_000, 16, True,
             "the default: good answers and tool calls, ~3 GB in use with a short conversation"),
    KnownLLM("mlx-community/Qwen3-1.7B-4bit", "Qwen3 1.7B, 4-bit", 980_000_000, 8, True,
             "for 8 GB Macs: ~1.5 GB in use; thinking is turned off for speech"),
    KnownLLM("mlx-community/Qwen3-8B-4bit", "Qwen3 8B, 4-bit", 4_620_000_000, 32, True,
             "for 32 GB Macs and more: ~6 GB in use, better answers, slower first word"),
    KnownLLM("mlx-community/gemma-3-1b-it-4bit", "Gemma 3 1B instruct, 4-bit (Unmute's default LLM)",
             760_000_000, 8, False, "small and quick, no tool calling"),
)


def known_llm(repo_id: str) -> KnownLLM | None:
    return next((m for m in LLM_MODELS if m.repo_id == repo_id), None)
