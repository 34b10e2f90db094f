"""Entry script of the frozen app: the same entry point as the `moshi-app` command
(`Moshi --self-test` runs moshi_mlx.selftest before any Qt object exists)."""

import multiprocessing
import sys

from moshi_app.main import main

if __name__ == "__main__":
    multiprocessing.freeze_support()  # a frozen child process must not start a second app
    sys.exit(main())
