"""`moshi-mlx bench tts`: text to speech as `say` runs it, on random weights of a TTS preset (or a
real model): time to first audio, ms per LM step and per Mimi decode, real-time factor; with
`--compare-kyutai`, Kyutai's moshi_mlx 0.3.0 `TTSModel.generate` on the same config side by side
(its generate does not decode audio: the comparison is of the LM side, at equal codebooks)."""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from .stats import FRAME_MS, timing_stats
from ..engine import options_cli as _v

TEXT = ("The old lighthouse keeper climbed the spiral stairs every evening, counting the steps as his "
        "father had taught him, and lit the lamp that guided the fishing boats home through the fog. "
        "Nobody in the village remembered a night when the light had failed.")


def configure_parser(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", default="tts-1.6b", help="tts-1.6b | tts-0.75b | a TTS config.json")
    p.add_argument("--model", default=None, help="time a real TTS model (folder, repo id, demo-tts) instead")
    p.add_argument("--dim", type=_v.COUNT, default=None, help="shrink the widths (e.g. 128: overhead-bound)")
    p.add_argument("--bits", type=int, default=4, choices=(4, 8, 16), help="16: unquantized")
    p.add_argument("--group-size", type=_v.COUNT, default=None, help="default: 32 for 4 bits, 64 for 8")
    p.add_argument("--codebooks", type=_v.COUNT, default=None,
                   help="generated and decoded (default: the model's, 24 of 32)")
    p.add_argument("--mimi", choices=("full", "tiny"), default="full",
                   help="random Mimi of the release size (default) or a tiny one (LM-bound timing)")
    p.add_argument("--steps", type=_v.COUNT, default=60, help="LM steps to run (the first ~18 carry no audio)")
    p.add_argument("--compare-kyutai", action="store_true",
                   help="also time Kyutai's moshi_mlx 0.3.0 TTS on the same config (subprocess)")
    p.add_argument("--repeats", type=_v.COUNT, default=1, help="with --compare-kyutai: alternate this many times")
    p.add_argument("--kyutai-quantize", choices=("all", "run_tts"), default="all",
                   help="Kyutai's model quantized as ours (every Linear/Embedding but the conditioners "
                        "and, as Kyutai's cannot be, the cross-attention; default) or as Kyutai's "
                        "run_tts.py (depformer, self-attention, MLP)")
    p.add_argument("--cache-dir", default=None)
    p.add_argument("--json", action="store_true", help="print the results as JSON")


def _config(args):
    """The LM config of the preset (its TTS metadata kept when --dim shrinks it)."""
    from ..lm import LmConfig
    from .lm import bench_config

    config = bench_config(argparse.Namespace(config=args.config, dim=args.dim))
    if args.dim:
        from ..lm.presets import PRESETS, preset

        extra = preset(args.config).extra if args.config in PRESETS else LmConfig.from_json(args.config).extra
        config = LmConfig.from_dict(config.to_dict(with_extra=False) | extra)
    return config


def _random_model(args, tmp: Path):
    """A LoadedModel of random weights: the LM as `bench lm` builds it, a random Mimi, the demo's
    text tokenizer (timing does not depend on which words)."""
    from ..demo import _randomize_mimi
    from ..device import activation_dtype
    from ..engine.loader import LoadedModel
    from ..hub import ModelFiles
    from ..mimi import Mimi, MimiConfig
    from ..mimi.codec import MlxCodec
    from ..tts.demo import train_tokenizer
    from .lm import _build_model

    import dataclasses

    import mlx.core as mx
    import sentencepiece

    config = _config(args)
    group = args.group_size or (32 if args.bits == 4 else 64)
    lm = _build_model(config, args.bits, group, activation_dtype())
    base = MimiConfig.moshi() if args.mimi == "full" else MimiConfig.tiny()
    mimi = Mimi(dataclasses.replace(base, n_q=config.mimi_codebooks, codebook_size=config.card))
    _randomize_mimi(mimi)
    mx.eval(mimi.parameters())  # once, not in every decode
    train_tokenizer(tmp / "tokenizer.model", 256)
    tokenizer = sentencepiece.SentencePieceProcessor(model_file=str(tmp / "tokenizer.model"))
    name = f"random {args.config}" + (f" dim {args.dim}" if args.dim else "")
    files = ModelFiles(tmp / "random.safetensors", tmp / "mimi.safetensors", tmp / "tokenizer.model",
                       config.to_dict(), name)
    return LoadedModel(files, lm, MlxCodec(mimi), tokenizer, "mlx", "tts"), group


def _voices(model, info):
    from ..tts.voices import Voice

    rng = np.random.default_rng(0)
    if info.multi_speaker:
        return [Voice("random", embedding=rng.standard_normal((125, info.speaker_dim)).astype(np.float32))]
    return [Voice("random", audio=(0.1 * rng.standard_normal(24000 * 3)).astype(np.float32))]


class _Timed:
    """Wraps a callable, keeping (start, seconds) of each call."""

    def __init__(self, fn):
        self.fn, self.calls = fn, []

    def __call__(self, *a, **k):
        t = time.perf_counter()
        out = self.fn(*a, **k)
        self.calls.append((t, time.perf_counter() - t))
        return out


def run_ours(model, voices, codebooks: int | None, steps: int) -> dict:
    """One synthesis of TEXT (after compiling everything), stopped after `steps` LM steps."""
    from ..tts.synth import Synthesizer, TtsSettings

    synth = Synthesizer(model, voices, TtsSettings(codebooks=codebooks, seed=0))
    t = time.perf_counter()
    synth.gen.warmup()
    synth.decoder.decode_frame(np.zeros(synth.codebooks, np.int32))
    synth.decoder.reset()
    compile_s = time.perf_counter() - t
    lm = synth.gen.step = _Timed(synth.gen.step)
    decode = synth.decoder.decode_frame = _Timed(synth.decoder.decode_frame)  # the model's codec:
    synth.push_text(TEXT)
    synth.end_of_text()
    start = time.perf_counter()
    frames = 0
    for _ in synth.frames():
        frames += 1
        if synth.gen.offset >= steps:
            break
    wall = time.perf_counter() - start
    del synth.decoder.decode_frame  # unwrapped for the next run
    delay = synth.info.delay_steps + synth.gen.buffer.max_delay  # the call of the first audio frame
    audible = [d * 1000 for _, d in lm.calls[delay:]]
    first_lm = lm.calls[delay][0] + lm.calls[delay][1] - start if len(lm.calls) > delay else None
    return {"codebooks": synth.codebooks, "compile_s": compile_s, "steps": len(lm.calls),
            "frames": frames, "wall_s": wall, "first_audio_s": synth.first_audio_s,
            "first_frame_lm_s": first_lm, "lm_ms": timing_stats(audible),
            "silent_lm_ms": timing_stats([d * 1000 for _, d in lm.calls[:delay]]),
            "decode_ms": timing_stats([d * 1000 for _, d in decode.calls]) if decode.calls else None}


def run_kyutai(config, args, group: int, tokenizer: Path) -> dict:
    """Kyutai's TTS in a subprocess (kyutai_tts.py)."""
    import mlx.core as mx

    from ..device import activation_dtype
    from ..errors import MoshiError
    from .lm import run_kyutai_script

    if not config.is_conditioned:
        raise MoshiError("Kyutai's moshi_mlx 0.3.0 TTS runs audio-prefix models without their CFG "
                         "settings (cfg_is_no_text is a TODO there): compare tts-1.6b only")
    kwargs = config.pytorch_kwargs()
    kwargs["demux_second_stream"] = config.demux_second_stream
    speaker = next(v["tensor"]["dim"] for v in config.conditioners.values() if v["type"] == "tensor")
    dtype = {mx.float32: "float32", mx.bfloat16: "bfloat16", mx.float16: "float16"}[activation_dtype()]
    job = {"lm_kwargs": kwargs, "bits": args.bits, "group_size": group, "dtype": dtype,
           "steps": args.steps, "text": TEXT, "tokenizer": str(tokenizer), "speaker_dim": speaker,
           "cfg": 2.0, "model_id": config.extra.get("model_id") or {"sig": "random", "epoch": 0},
           "tts_config": config.extra["tts_config"], "quantize": args.kyutai_quantize}
    data = run_kyutai_script("kyutai_tts.py", job)
    delay = int(config.extra["tts_config"]["audio_delay"] * 12.5) + config.max_delay
    return {"first_frame_lm_s": data["first_frame_s"], "steps": data["steps"],
            "lm_ms": timing_stats(data["step_ms"][delay:]), "peak_memory_bytes": data["peak_memory"]}


def main(args: argparse.Namespace) -> int:
    import mlx.core as mx

    from ..tts.info import TtsInfo

    with tempfile.TemporaryDirectory() as tmp:
        if args.model:
            from ..engine.loader import load_model
            from ..hub import resolve_model
            from ..tts.voice_repo import default_voice, resolve_voice

            model = load_model(resolve_model(args.model, cache_dir=args.cache_dir))
            info = TtsInfo.from_model(model)
            voices = [resolve_voice(default_voice(model), info, model, args.cache_dir)]
            group = None
        else:
            model, group = _random_model(args, Path(tmp))
            info = TtsInfo.from_model(model, used_by="bench tts")
            voices = _voices(model, info)
        result = {"model": model.files.name, "bits": args.bits, "mimi": args.mimi,
                  "kyutai_quantize": args.kyutai_quantize if args.bits < 16 else None,
                  "device": str(mx.default_device()), "runs": []}
        ours_runs, kyutai_runs = [], []
        for r in range(args.repeats if args.compare_kyutai else 1):
            order = ("ours", "kyutai") if r % 2 == 0 else ("kyutai", "ours")
            for who in order if args.compare_kyutai else ("ours",):
                if who == "ours":
                    ours_runs.append(run_ours(model, voices, args.codebooks, args.steps))
                    if args.compare_kyutai and (args.codebooks or info.default_codebooks) != info.dep_q:
                        ours_runs[-1]["all_codebooks"] = run_ours(model, voices, info.dep_q, args.steps)
                else:
                    kyutai_runs.append(run_kyutai(model.lm.config, args, group, model.files.tokenizer_path))
        result["ours"], result["kyutai"] = ours_runs, kyutai_runs
    print(json.dumps(result, indent=2) if args.json else _table(result, info))
    return 0


def _table(r: dict, info) -> str:
    def s(x):
        return "-" if x is None else f"{x:.2f}"

    lines = [f"TTS bench: {r['model']}, {'q%d' % r['bits'] if r['bits'] < 16 else 'unquantized'}, "
             f"Mimi {r['mimi']}, {r['device']}; audio starts {info.delay_steps} + 2 steps after the text"]
    for run in r["ours"]:
        lm, dec = run["lm_ms"], run["decode_ms"]
        total = lm["median"] + (dec["median"] if dec else 0)
        lines.append(f"  ours ({run['codebooks']} codebooks): first audio {s(run['first_audio_s'])} s "
                     f"(LM alone to the first audio frame {s(run['first_frame_lm_s'])} s), LM step "
                     f"{lm['median']:.1f} ms (p90 {lm['p90']:.1f}), decode {dec['median'] if dec else 0:.1f} ms, "
                     f"real-time factor {total / FRAME_MS:.2f} (LM alone {lm['median'] / FRAME_MS:.2f}); "
                     f"compile {run['compile_s']:.1f} s before")
        if "all_codebooks" in run:
            a = run["all_codebooks"]
            lines.append(f"  ours ({a['codebooks']} codebooks): LM alone to the first audio frame "
                         f"{s(a['first_frame_lm_s'])} s, LM step {a['lm_ms']['median']:.1f} ms "
                         f"(p90 {a['lm_ms']['p90']:.1f})")
    for run in r["kyutai"]:
        q = f", quantized as {'ours' if r['kyutai_quantize'] == 'all' else 'run_tts.py'}" if r["kyutai_quantize"] else ""
        lines.append(f"  Kyutai moshi_mlx 0.3.0 ({info.dep_q} codebooks, no decode{q}): first audio frame "
                     f"{s(run['first_frame_lm_s'])} s, step {run['lm_ms']['median']:.1f} ms "
                     f"(p90 {run['lm_ms']['p90']:.1f}), real-time factor {run['lm_ms']['median'] / FRAME_MS:.2f}")
    if r["kyutai"]:
        same = [run.get("all_codebooks", run) for run in r["ours"]]
        ours = float(np.median([x["lm_ms"]["median"] for x in same]))
        theirs = float(np.median([x["lm_ms"]["median"] for x in r["kyutai"]]))
        first_o = float(np.median([x["first_frame_lm_s"] for x in same]))
        first_k = float(np.median([x["first_frame_lm_s"] for x in r["kyutai"]]))
        lines.append(f"  ours / Kyutai at {info.dep_q} codebooks (medians of {len(same)} runs each): LM step "
                     f"{ours / theirs:.2f}, time to the first audio frame {first_o / first_k:.2f}")
    return "\n".join(lines)
