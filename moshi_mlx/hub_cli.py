"""`python -m moshi_mlx models`: known models, their sizes, what is installed; downloads."""

from __future__ import annotations

import argparse
import sys
import threading


def configure_parser(p: argparse.ArgumentParser) -> None:
    p.add_argument("--download", metavar="REPO", default=None,
                   help="download a model (repo id) into the Hugging Face cache")
    p.add_argument("--cache-dir", default=None, help="Hugging Face cache folder (default: HF's)")


def _table(cache_dir) -> str:
    from . import hub

    from .kinds import KINDS

    rows = [("model", "size", "installed", "this machine"), ("-----", "----", "---------", "------------")]
    for kind in KINDS.values():
        models = [m for m in hub.KNOWN_MODELS if m.kind == kind.name]
        if not models:
            continue
        rows.append((f"[{kind.label}: {', '.join(kind.commands)}]", "", "", ""))
        for m in models:
            verdict, why = hub.recommend(m)
            rows.append((m.repo_id, f"{m.size_bytes / hub.GB:5.1f} GB",
                         "yes" if hub.is_installed(m.repo_id, cache_dir) else "no", f"{verdict}: {why}"))
    rows.append((hub.DEMO, "  <1 MB", "made locally", "tiny random model: noise, for tests"))
    width = [max(len(r[i]) for r in rows) for i in range(3)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r[:3], width)) + "  " + r[3] for r in rows]
    return "\n".join(lines)


def main(args: argparse.Namespace) -> int:
    from . import hub

    if args.download is None:
        print(_table(args.cache_dir))
        print("\ndownload one with: python -m moshi_mlx models --download REPO")
        return 0
    from .demo import DEMOS, demo_model_dir

    if args.download in DEMOS:  # built here, never downloaded
        print(f"{args.download}: a demo model is built on this machine, nothing to download; ready in "
              f"{demo_model_dir(None, args.download)}")
        return 0
    from tqdm import tqdm

    bar = None  # made once the Hub has answered with the sizes: no empty bar before an error

    def progress(done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            bar = tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, file=sys.stderr,
                       desc=args.download)
        bar.n = done
        bar.refresh()

    cancel = threading.Event()
    try:
        path = hub.download(args.download, cache_dir=args.cache_dir, progress=progress, cancel=cancel)
    except KeyboardInterrupt:
        cancel.set()
        print("\ncancelled: run the same command again to resume", file=sys.stderr)
        return 130
    finally:
        if bar is not None:
            bar.close()
    print(f"{args.download}: ready in {path}")
    return 0
