"""``python -m core prepare | status``: the recommended model of every system, in one go.

Examples::

    python -m core prepare --data-dir ../shared/data          # train what is missing (make models)
    python -m core prepare --systems reid,clustering          # only these
    python -m core status --data-dir ../shared/data --json    # what is ready, nothing trained
    python -m core jobs                                       # the background jobs started from the app
    python -m core jobs cancel 3f2a9c1b7d4e                   # stop one (resume ID starts it again)

Each system's recommended configuration (``core/recommended.py``) is trained on the first dataset of its
kind in the data folder (the demo data when there is none), on the dataset's default split. Models that
exist and match are kept (``--force`` trains them again); each is saved the moment it is done, so an
interrupted run loses nothing finished. The other commands: ``python -m core.datasets``, ``core.reid``,
``core.clustering``, ``core.attributes``.
"""
from __future__ import annotations

import argparse
import json
import sys

from . import cli, flags, prepare
from .errors import StudioError


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m core", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    for name, text in (("prepare", "train each system's recommended model where none is ready"),
                       ("status", "say what is ready for each system (trains nothing)")):
        p = sub.add_parser(name, help=text)
        flags.add(p, "data-dir", "cache-dir", "model-dir", "weights", "seed")
        p.add_argument("--systems", default=",".join(prepare.SYSTEMS),
                       help=f"comma-separated, of {', '.join(prepare.SYSTEMS)} (default: all)")
        p.add_argument("--presets", help="system=preset,... where not the recommended ones, e.g. "
                                          "reid=lomo-xqda,attributes=heads-128 for the fastest (default: "
                                          "$STUDIO_PRESETS, else the recommended)")
        p.add_argument("--json", action="store_true", help="print the rows as JSON")
        if name == "prepare":
            p.add_argument("--force", action="store_true", help="train again even where a matching model exists")
    jp = sub.add_parser("jobs", help="the background jobs (trainings, preparations started from the app): list, "
                                     "cancel or resume one")
    jp.add_argument("action", nargs="?", choices=("list", "cancel", "resume"), default="list")
    jp.add_argument("id", nargs="?", help="the job's id (cancel, resume)")
    jp.add_argument("--limit", type=int, default=20, help="list: how many of the latest")
    flags.add(jp, "model-dir")
    args = parser.parse_args(argv)
    if args.command == "jobs":
        return _jobs(args)
    systems = [s.strip() for s in args.systems.split(",") if s.strip()]
    unknown = [s for s in systems if s not in prepare.SYSTEMS]
    if unknown or not systems:
        parser.error(f"--systems: unknown {', '.join(unknown) or '(none given)'}; use {', '.join(prepare.SYSTEMS)}")
    settings = prepare.Settings(args.data_dir, args.cache_dir, args.model_dir, args.weights, args.seed, args.presets)
    for system in systems:
        settings.preset(system)                 # a misspelt preset: one line, before any work
    if args.command == "status":
        rows = prepare.status(settings, systems)
    else:
        bar, update = cli.progress_bar("preparing")
        rows = prepare.run(settings, systems, force=args.force, progress=update)
        bar.close()
    print(json.dumps([r.to_dict() for r in rows], indent=2) if args.json else prepare.table(rows))
    return 0 if all(r.state == "ready" for r in rows) or args.command == "status" else cli.EXIT_USER_ERROR


def _jobs(args) -> int:
    from . import jobs

    if args.action == "list":
        print(jobs.table(jobs.recent(args.limit, args.model_dir)))
        return 0
    if not args.id:
        raise StudioError(f"jobs {args.action}: give the job's id (python -m core jobs lists them)")
    job = (jobs.cancel if args.action == "cancel" else jobs.resume)(args.id, args.model_dir)
    print(jobs.table([job]))
    return 0


if __name__ == "__main__":
    sys.exit(cli.run(main))
