"""The command line's common flags, defined once for every CLI and benchmark, and the data they name.

``add(parser, "data-dir", "dataset", "weights", ...)`` declares flags by name with one help text and one
default each; a caller may override a flag's settings (``add(p, "data-dir", required={"data-dir"})``).
Defaults are None: ``core.config`` resolves an unset flag (flag > environment variable > default), so a
command, the app and a benchmark given the same settings use the same folders and weights file.
``source`` / ``dataset`` find the data a command's flags name.
"""
from __future__ import annotations

import argparse

from .errors import StudioError

FLAGS: dict[str, dict] = {
    "data-dir": dict(help="folder with the real datasets (default: $STUDIO_DATA_DIR, else the demo data)"),
    "dataset": dict(help="which dataset of the data folder, by name (its folder's path inside the data folder, "
                         "e.g. VIPeR; 'demo' for the demo data; default: the first found; list them with "
                         "python -m core.datasets info)"),
    "cache-dir": dict(help="caches and the demo data (default: $STUDIO_CACHE_DIR, else .cache)"),
    "model-dir": dict(help="where models are saved and found (default: $STUDIO_MODEL_DIR, else models/)"),
    "weights": dict(help="Xception's ImageNet no-top weights file (default: $STUDIO_XCEPTION_WEIGHTS, else "
                         "Keras' cache or its download)"),
    "seed": dict(type=int, default=0, help="seed for splits, sampling and initialisation (default: 0)"),
}
COMMON = ("data-dir", "cache-dir", "dataset", "seed")      # every command that reads a dataset


def add(parser: argparse.ArgumentParser, *names: str, required: set[str] | frozenset = frozenset(),
        **overrides: dict) -> argparse.ArgumentParser:
    """Declare the flags ``names`` (keys of ``FLAGS``) on ``parser``; those in ``required`` must be given;
    ``overrides``: settings of a flag that differ for this command, by its name with ``_`` for ``-``."""
    for name in names:
        settings = {**FLAGS[name], **overrides.get(name.replace("-", "_"), {})}
        if name in required:
            settings.update(required=True, default=None)
        parser.add_argument(f"--{name}", **settings)
    return parser


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
