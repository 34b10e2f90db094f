"""--verify: agreement of the converted model with the original, and detection of a broken one."""

import mlx.core as mx

from moshi_quantize import cli, lm_convert
from moshi_quantize.convert import convert
from moshi_quantize.verify import Thresholds, compare, load_converted, load_original


def test_verify_passes_good_conversions_and_fails_corrupted_scales(release_folder, out_parent):
    src, _ = release_folder
    convert(str(src), out_parent / "bf16")
    original = load_original(src / "model.safetensors", load_converted(out_parent / "bf16").config)
    exact = compare(original, load_converted(out_parent / "bf16"), frames=8)
    assert exact.text_agreement == 1.0 and exact.audio_agreement == 1.0 and exact.text_kl < 1e-6

    convert(str(src), out_parent / "q8", bits=8)
    good = compare(original, load_converted(out_parent / "q8"), frames=8)
    assert good.passes(Thresholds()), good

    folder = out_parent / "q8"
    weights = mx.load(str(folder / "model.q8.safetensors"))
    broken = {k: (v[::-1] if k.endswith(".scales") else v) for k, v in weights.items()}  # rows swapped
    mx.save_safetensors(str(folder / "model.q8.safetensors"), broken)
    bad = compare(original, load_converted(folder), frames=8)
    assert not bad.passes(Thresholds()), bad
    assert bad.text_kl > 10 * max(good.text_kl, 1e-3)
    assert "FAIL" in bad.format(Thresholds()) and "PASS" in good.format(Thresholds())


def test_cli_verify_exit_codes(release_folder, out_parent, monkeypatch, capsys):
    src, _ = release_folder
    assert cli.main([str(src), "-o", str(out_parent / "ok"), "--bits", "8", "--verify",
                     "--verify-frames", "6", "--no-progress"]) == 0
    assert "PASS" in capsys.readouterr().out

    real_encode = lm_convert._encode

    def corrupt_scales(t, value, dtype, mode):  # a deliberately broken quantizer
        return [(n, -a if n.endswith(".scales") else a) for n, a in real_encode(t, value, dtype, mode)]

    monkeypatch.setattr(lm_convert, "_encode", corrupt_scales)
    assert cli.main([str(src), "-o", str(out_parent / "broken"), "--bits", "8", "--verify",
                     "--verify-frames", "6", "--no-progress"]) == 1
    assert "FAIL" in capsys.readouterr().out
