"""Shared command-line plumbing: one-line errors, exit codes, common flags, progress bars."""
from __future__ import annotations

import argparse
import sys
from typing import Callable

from .errors import StudioError

EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130


def add_common_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", help="folder with the real datasets (default: $STUDIO_DATA_DIR, else demo)")
    parser.add_argument("--cache-dir", help="where the demo data and caches go (default: $STUDIO_CACHE_DIR)")
    parser.add_argument("--dataset", help="which dataset of the data folder, by name (its folder's path inside "
                                           "the data folder, e.g. VIPeR; 'demo' for the demo data; default: "
                                           "the first found; list them with python -m core.datasets info)")
    parser.add_argument("--seed", type=int, default=0, help="seed for splits, sampling and initialisation")


def source(kind: str, args):
    """Where the data of ``kind`` is for a command: ``--dataset`` in ``--data-dir`` / $STUDIO_DATA_DIR
    when set, else the demo. A data folder that lacks this kind is an error here (the app falls back to
    the demo with a note; on the command line a silent fallback would produce numbers about the wrong
    data)."""
    from .datasets import catalog

    found = catalog.resolve(kind, args.data_dir, args.cache_dir, args.seed, getattr(args, "dataset", None))
    if found.note:
        raise StudioError(found.note.split(":")[0] + "; omit --data-dir and unset STUDIO_DATA_DIR to use the demo "
                          "data (layouts understood: see python -m core.datasets layouts)")
    return found


def dataset(kind: str, args):
    """The data of ``kind`` for a command, loaded (see ``source``)."""
    from .datasets import catalog

    return catalog.load(source(kind, args))


def progress_bar(desc: str = ""):
    """``(bar, update)``: a tqdm bar on stderr and a ``update(fraction, text, *extra)`` callback for the
    library's ``progress=`` parameters. Close the bar when done."""
    from tqdm import tqdm

    bar = tqdm(total=1000, desc=desc, file=sys.stderr, leave=False, dynamic_ncols=True)

    def update(fraction: float, text: str = "", *_):
        bar.n = int(min(1.0, fraction) * 1000)
        bar.set_postfix_str(text[:60])
        bar.refresh()
    return bar, update


def run(main: Callable[[list[str] | None], int | None], argv: list[str] | None = None) -> int:
    """Run ``main``; a StudioError becomes ``error: <reason>`` on one line and exit code 2."""
    try:
        return int(main(argv) or 0)
    except StudioError as exc:
        _close_bars()
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        _close_bars()
        print("interrupted: nothing half-written was kept", file=sys.stderr)
        return EXIT_INTERRUPTED


def _close_bars() -> None:
    """Clear progress bars left open by a failed command, so that the error starts its own line."""
    import tqdm

    for bar in list(getattr(tqdm.tqdm, "_instances", [])):
        bar.close()
