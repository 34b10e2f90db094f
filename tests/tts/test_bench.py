"""`moshi-mlx bench tts`: ours and Kyutai's moshi_mlx 0.3.0 TTS side by side on a small TTS config."""

import argparse
import json

from moshi_mlx.bench import tts as bench_tts


def test_bench_tts_json_side_by_side(capsys):
    parser = argparse.ArgumentParser()
    bench_tts.configure_parser(parser)
    args = parser.parse_args(["--config", "tts-1.6b", "--dim", "128", "--bits", "16", "--mimi", "tiny",
                              "--steps", "22", "--compare-kyutai", "--json"])
    assert bench_tts.main(args) == 0
    result = json.loads(capsys.readouterr().out)
    (ours,), (kyutai,) = result["ours"], result["kyutai"]
    assert ours["codebooks"] == 24 and ours["all_codebooks"]["codebooks"] == 32
    assert ours["steps"] == 22 and ours["lm_ms"]["n"] == 22 - 18  # audio from step 16 + 2
    assert ours["frames"] == 22 - 18 - 2  # two decoded frames are dropped (Kyutai's click)
    assert ours["first_audio_s"] > ours["first_frame_lm_s"] > 0 and ours["decode_ms"]["median"] > 0
    assert kyutai["steps"] == 22 and kyutai["lm_ms"]["n"] == 22 - 1 - 18 and kyutai["first_frame_lm_s"] > 0
