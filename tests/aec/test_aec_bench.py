import argparse
import re

from moshi_mlx.talk import aec_bench


def test_bench_prints_cpu_time_and_erle(capsys):
    parser = argparse.ArgumentParser()
    aec_bench.configure_parser(parser)
    assert aec_bench.main(parser.parse_args(["--seconds", "8"])) == 0
    line = capsys.readouterr().out
    cpu, erle = re.search(r"([\d.]+) ms CPU per 80 ms frame .* ERLE ([\d.]+) dB", line).groups()
    assert 0.0 < float(cpu) < 10.0
    assert float(erle) >= 20.0
