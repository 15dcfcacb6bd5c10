"""Shared command-line plumbing: one-line errors, exit codes, common flags, progress bars."""
from __future__ import annotations

import argparse
import sys
from typing import Callable, Iterable

from .errors import StudioError

EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130


def add_common_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", help="folder with the real datasets (default: $STUDIO_DATA_DIR, else demo)")
    parser.add_argument("--cache-dir", help="where the demo data and caches go (default: $STUDIO_CACHE_DIR)")
    parser.add_argument("--seed", type=int, default=0, help="seed for splits, sampling and initialisation")


def progress(iterable: Iterable, total: int | None = None, desc: str = ""):
    """A tqdm progress bar on stderr (silent when stderr is not a terminal and CI is quiet)."""
    from tqdm import tqdm

    return tqdm(iterable, total=total, desc=desc, file=sys.stderr, leave=False, dynamic_ncols=True)


def run(main: Callable[[list[str] | None], int | None], argv: list[str] | None = None) -> int:
    """Run ``main``; a StudioError becomes ``error: <reason>`` on one line and exit code 2."""
    try:
        return int(main(argv) or 0)
    except StudioError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("interrupted: nothing half-written was kept", file=sys.stderr)
        return EXIT_INTERRUPTED
