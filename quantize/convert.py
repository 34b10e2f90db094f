"""convert(): a Kyutai PyTorch checkpoint (folder, repo id or files) -> an MLX checkpoint folder.

Output folder: `model.q4.safetensors` / `model.q8.safetensors` / `model.safetensors` with Kyutai's
MLX names (quantized modules as `weight` uint32, `scales`, `biases`), `config.json` (Kyutai lm_kwargs
names + "quantization" in mlx-lm's convention + moshi_name/mimi_name/tokenizer_name), the Mimi weights and the text tokenizer
copied unchanged, and `manifest.json` (size and sha256 of every file).
"""

from __future__ import annotations

import shutil
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from moshi_mlx.device import parse_dtype
from moshi_mlx.errors import CheckpointError, ConfigError
from moshi_mlx.lm.config import LmConfig

from .lm_convert import plan_outputs, write_lm
from .vis_layout import vis_layout
from .outdir import Staging, check_cancel, check_output, copy_file, write_json, write_manifest
from .plan import check_keep_matched, make_plan
from .readers import open_reader
from .safetensors_io import read_header
from .sources import resolve
from .voices import convert_voices

TOOL = "moshi-quantize 0.1.0"
_MIMI_PREFIXES = ("encoder.", "decoder.", "quantizer.")


@dataclass(frozen=True)
class ConversionSummary:
    output: Path
    model_file: str
    source_lm: Path  # the LM weights file that was converted
    bits: int | None
    group_size: int | None
    dtype: str
    quantization: dict | None  # as recorded in config.json
    input_bytes: int  # LM + Mimi + tokenizer as read
    output_bytes: int  # every file written, manifest included
    lm_input_bytes: int
    lm_output_bytes: int
    parameters: int  # LM parameters (unquantized count)
    quantized_tensors: int
    float_weights: int  # Linear/Embedding weights left unquantized
    seconds: float

    @property
    def bits_per_weight(self) -> float:
        """LM file bits per parameter, scales and biases included (q4/g32: 5.0, q8/g64: 8.5)."""
        return 8 * self.lm_output_bytes / max(self.parameters, 1)

    def format(self) -> str:
        q = "unquantized" if self.bits is None else f"{self.bits} bits, group {self.group_size}"
        return "\n".join([
            f"wrote {self.output}/{self.model_file} ({q}, float parts {self.dtype})",
            f"input:  {_size(self.input_bytes)} (LM {_size(self.lm_input_bytes)})",
            f"output: {_size(self.output_bytes)} (LM {_size(self.lm_output_bytes)})",
            f"bits per weight: {self.bits_per_weight:.2f} over {self.parameters / 1e6:.1f}M parameters; "
            f"{self.quantized_tensors} tensors quantized, {self.float_weights} Linear/Embedding kept float",
            f"time: {self.seconds:.1f} s",
        ])


def model_file_name(bits: int | None) -> str:
    return "model.safetensors" if bits is None else f"model.q{bits}.safetensors"


def convert(source: str | None, output: str | Path, *, bits: int | None = None,
            group_size: int | None = None, dtype: str = "bf16", keep=None, force: bool = False,
            progress: Callable[[int, int], None] | None = None,
            cancel: threading.Event | None = None,
            lm_file: str | Path | None = None, mimi_file: str | Path | None = None,
            tokenizer_file: str | Path | None = None, config_file: str | Path | None = None,
            keep_group_size: int | None = None, lora: str | Path | None = None,
            lora_config: str | Path | None = None) -> ConversionSummary:
    """Converts and returns a summary. `progress(bytes_done, bytes_total)` is called from this
    thread; setting `cancel` makes it raise ConversionCancelled and leave no output. `keep`: parts
    kept at higher precision (see plan.make_plan). Explicit *_file paths override the source's.
    `lora`: a moshi-finetune adapter merged into the weights first (see lora.py)."""
    start = time.monotonic()
    try:
        float_dtype = parse_dtype(dtype)
    except ValueError as e:
        raise ConfigError(str(e)) from None
    plan = make_plan(bits, group_size, keep, keep_group_size)
    output = check_output(Path(output), force)
    src = resolve(source, lm=lm_file, mimi=mimi_file, tokenizer=tokenizer_file, config=config_file)
    layout = vis_layout(src)  # MoshiVis: its own names and config (None: a Moshi-family LM)
    if layout is not None:
        config = layout.config
    else:
        config = LmConfig.from_dict(src.config, source=f"config of {src.origin}") if src.config \
            else LmConfig.moshi_7b()
    _check_mimi(src.mimi)
    _check_tokenizer(src.tokenizer)

    reader = open_reader(src.lm)
    if lora is not None:
        from .lora import MergedReader

        try:
            reader = MergedReader(reader, lora, lora_config)
        except BaseException:
            reader.close()
            raise
    try:
        by_input, planned, stats = plan_outputs(reader, config, plan, float_dtype, layout)
        check_keep_matched(plan)
        total = stats.input_bytes + src.mimi.stat().st_size + src.tokenizer.stat().st_size
        done = 0

        def advance(n: int) -> None:
            nonlocal done
            done += n
            if progress is not None:
                progress(done, total)

        model_file = model_file_name(plan.default.bits if plan.default else None)
        staging = Staging(output, force)
        with staging as tmp:
            _check_space(tmp, sum(p.nbytes for p in planned) + total - stats.input_bytes)
            files = {model_file: write_lm(reader, config, by_input, planned, tmp / model_file,
                                          float_dtype, plan.mode, advance, cancel, layout)}
            for path in (src.mimi, src.tokenizer):
                files[path.name] = copy_file(path, tmp / path.name, advance, cancel)
            files.update(convert_voices(src.lm.parent, tmp))  # PersonaPlex's voices.tgz, if any
            check_cancel(cancel)
            quantization = plan.config_entry()
            out_config = config.to_dict()  # metadata such as lm_gen_config or mimi_config kept
            out_config.update(layout.extra_config() if layout is not None else {})
            out_config.pop("quantization", None)
            if quantization is not None:
                out_config["quantization"] = quantization
            # the weights file goes under Kyutai's own key, moshi_name, which LmConfig (and Kyutai's
            # loaders) read; a "model_file" key would be rejected by LmConfig.from_dict
            out_config.update(moshi_name=model_file, mimi_name=src.mimi.name,
                              tokenizer_name=src.tokenizer.name, dtype=dtype)
            files["config.json"] = write_json(tmp / "config.json", out_config)
            write_manifest(tmp, files, TOOL)
            output_bytes = sum(p.stat().st_size for p in tmp.rglob("*") if p.is_file())
            check_cancel(cancel)  # the last point where a cancel leaves nothing behind
            staging.commit()
    finally:
        reader.close()
    return ConversionSummary(
        output=output, model_file=model_file, source_lm=src.lm,
        bits=plan.default.bits if plan.default else None, group_size=plan.default.group_size if plan.default else None, dtype=dtype,
        quantization=quantization, input_bytes=total, output_bytes=output_bytes,
        lm_input_bytes=stats.input_bytes, lm_output_bytes=files[model_file][0],
        parameters=stats.parameters, quantized_tensors=stats.quantized,
        float_weights=stats.kept_float, seconds=time.monotonic() - start)


def _check_mimi(path: Path) -> None:
    keys = read_header(path)
    if not any(k.startswith(_MIMI_PREFIXES) for k in keys):
        first = next(iter(keys), None)
        raise CheckpointError(f"{path}: not Mimi codec weights (no encoder/decoder/quantizer keys; "
                              f"first key {first!r})")


def _check_tokenizer(path: Path) -> None:
    import sentencepiece

    try:
        sp = sentencepiece.SentencePieceProcessor(model_file=str(path))
        ok = sp.vocab_size() > 0
    except (OSError, RuntimeError) as e:
        raise CheckpointError(f"{path}: not a sentencepiece text tokenizer ({e})") from None
    if not ok:
        raise CheckpointError(f"{path}: sentencepiece tokenizer with an empty vocabulary")


def _check_space(folder: Path, needed: int) -> None:
    free = shutil.disk_usage(folder).free
    if needed > free:
        raise CheckpointError(f"{folder.parent}: not enough disk space: the output needs "
                              f"{_size(needed)}, {_size(free)} free")


def _size(n: int) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.2f} {unit}"
    return f"{n} B"

