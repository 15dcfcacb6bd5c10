"""What every benchmark writes: a markdown table and a JSON file with date, machine, commit, seeds and
the command, written atomically to ``bench/results/<name>.md`` / ``.json``."""
from __future__ import annotations

import math
import os
import resource
import shlex
import sys
from pathlib import Path

import pandas as pd

from core import artifacts

RESULTS = Path(__file__).resolve().parent / "results"


# the code a benchmark runs is the code at its start: commits made while it runs must not be credited
STARTED_AT_COMMIT = artifacts.git_commit()


def meta(seeds, **extra) -> dict:
    return {"date": artifacts.now(), "machine": artifacts.machine(), "commit": STARTED_AT_COMMIT,
            "command": " ".join(shlex.quote(a) for a in [os.path.relpath(sys.executable), "-m",
                                                          f"bench.{Path(sys.argv[0]).stem}", *sys.argv[1:]]),
            "seeds": list(seeds), **extra}


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def stderr_progress(every: float = 0.1):
    """A ``progress`` callback (``core.progress``) printing a line to stderr per ``every`` of each phase."""
    seen: dict[str, int] = {}

    def update(event) -> None:
        step = int(event.fraction / every)
        if seen.get(event.phase) != step:
            seen[event.phase] = step
            print(f"[{event.fraction:4.0%}] {event.phase}: {event.message}", file=sys.stderr, flush=True)

    return update


def markdown_table(df: pd.DataFrame, digits: int = 4) -> str:
    if df.empty:
        return "(nothing measured yet)"
    cols = list(df.columns)
    lines = ["| " + " | ".join(map(str, cols)) + " |", "|" + "---|" * len(cols)]
    for row in df.itertuples(index=False):     # each value keeps its column's type (iterrows makes ints floats)
        cells = []
        for v in row:
            if v is None or (isinstance(v, float) and math.isnan(v)):
                cells.append("–")           # not measured for this row (the section's note says why)
            else:
                cells.append(f"{v:.{digits}f}" if isinstance(v, float) else str(v))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write(name: str, info: dict, sections: list[tuple[str, str, pd.DataFrame]], out_dir: Path = RESULTS) -> Path:
    """``sections``: (heading, note, table). Writes ``name.md`` and ``name.json``."""
    md = [f"# Benchmark: {name}", "", *[f"- **{k}**: {v}" for k, v in info.items()], ""]
    for heading, note, table in sections:
        md += [f"## {heading}", ""] + ([note, ""] if note else []) + [markdown_table(table), ""]
    artifacts.atomic_write_text(out_dir / f"{name}.md", "\n".join(md))
    artifacts.atomic_write_json(out_dir / f"{name}.json", {
        **info, "sections": [{"heading": h, "note": n, "rows": t.to_dict(orient="records")} for h, n, t in sections]})
    return out_dir / f"{name}.md"
