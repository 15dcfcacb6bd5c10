"""Shared command-line plumbing: one-line errors, exit codes, progress bars (the flags: ``flags.py``)."""
from __future__ import annotations

import sys
from typing import Callable

from .errors import StudioError

EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130


def progress_bar(desc: str = ""):
    """``(bar, update)``: a tqdm bar on stderr and an ``update(event)`` callback for the library's
    ``progress=`` parameters (``core.progress.Progress`` events: the bar shows the step's fraction and
    message). Close the bar when done."""
    from tqdm import tqdm

    bar = tqdm(total=1000, desc=desc, file=sys.stderr, leave=False, dynamic_ncols=True)

    def update(event):
        bar.n = int(event.fraction * 1000)
        bar.set_postfix_str(event.message[:60])
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
