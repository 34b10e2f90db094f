"""`moshi-app`: the desktop app's entry point.

`--self-test` runs the engine's self-test before any Qt object exists and exits with its code (the
packaged app is checked this way).
"""

from __future__ import annotations

import argparse
import sys


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--self-test", action="store_true",
                        help="check the engine (moshi_mlx.selftest) without opening a window, then exit")
    parser.add_argument("--settings", metavar="FILE",
                        help="read and write settings in this INI file instead of the system's place")
    parser.add_argument("--quit-after", type=float, metavar="SECONDS",
                        help="close the window after this many seconds (smoke tests)")
    parser.add_argument("--screenshot", metavar="PNG", help="save the main window as PNG before quitting")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="moshi-app", description="Talk with Moshi: the desktop app.")
    configure_parser(parser)
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    if args.self_test:
        from moshi_mlx.selftest import main as self_test

        return int(self_test([]) or 0)
    from .application import run

    return run(args)


if __name__ == "__main__":
    sys.exit(main())
