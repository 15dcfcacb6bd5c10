"""Every measured number from one source: the benchmarks' results under ``bench/results/*.json``.

A benchmark writes a results file (``bench/common.write``): its header (date, machine, commit, command,
seeds, ...) and sections, each a heading, a note and rows. This module answers "what did this
configuration measure on this dataset, and how long did it take" from those files, so the presets
(``core.recommended``), the pages, the home page and the README's tables (``python -m bench.report``)
state the numbers the benchmarks wrote, never copies of them::

    results.value("reid-nondeep", "Summary", "Rank-1", protocol="literature", method=FUSED)   # 54.0
    results.row("presets", "Training time", preset="fused-xqda")["seconds"]

A question the results cannot answer (no such file, section or row, or more than one row) is a
``ResultsError`` naming the file and what was asked: a wrong or missing number is never made up.
"""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from .config import PROJECT_ROOT
from .errors import StudioError

RESULTS = PROJECT_ROOT / "bench" / "results"


class ResultsError(StudioError):
    pass


@lru_cache(maxsize=None)
def _read(path: str, mtime_ns: int) -> dict:
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise ResultsError(f"{path}: cannot read the benchmark results ({exc})") from None
    if not isinstance(data, dict):
        raise ResultsError(f"{path}: not a benchmark results file")
    return data


def load(name: str, folder: Path | None = None) -> dict:
    """The results file ``<folder>/<name>.json`` (default folder: ``bench/results``), read once per change."""
    path = (folder or RESULTS) / f"{name}.json"
    try:
        mtime = path.stat().st_mtime_ns
    except OSError:
        raise ResultsError(f"no benchmark results '{name}' ({path} does not exist)") from None
    return _read(str(path), mtime)


def info(name: str, folder: Path | None = None) -> dict:
    """A results file's header: date, machine, commit, command, seeds and whatever else it says."""
    return {k: v for k, v in load(name, folder).items() if k != "sections"}


def rows(name: str, heading: str, folder: Path | None = None) -> list[dict]:
    """The rows of the section whose heading starts with ``heading``."""
    data = load(name, folder)
    sections = [s for s in data.get("sections", []) if str(s.get("heading", "")).startswith(heading)]
    if len(sections) != 1:
        found = ", ".join(repr(s.get("heading")) for s in data.get("sections", []))
        raise ResultsError(f"{name}.json: {len(sections)} sections start with {heading!r} (it has {found})")
    return list(sections[0].get("rows", []))


def row(name: str, heading: str, folder: Path | None = None, **where) -> dict:
    """The one row of that section whose columns equal ``where`` (keyword names with ``_`` for spaces or
    hyphens match columns written with them: ``re_ranking=False`` matches ``re-ranking``)."""
    found = [r for r in rows(name, heading, folder) if all(_get(r, k) == v for k, v in where.items())]
    if len(found) != 1:
        raise ResultsError(f"{name}.json, {heading!r}: {len(found)} rows where {where}")
    return found[0]


def value(name: str, heading: str, column: str, folder: Path | None = None, **where):
    """One measured value: ``column`` of ``row(name, heading, **where)``."""
    r = row(name, heading, folder, **where)
    if column not in r:
        raise ResultsError(f"{name}.json, {heading!r}: no column {column!r} (it has {', '.join(r)})")
    return r[column]


def _get(r: dict, key: str):
    for k in (key, key.replace("_", " "), key.replace("_", "-")):
        if k in r:
            return r[k]
    return _MISSING


_MISSING = object()
