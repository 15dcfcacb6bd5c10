"""``python -m core.datasets info | layouts | demo``: the datasets found, the layouts understood, the demo.

``info`` walks the data folder (``--data-dir`` / $STUDIO_DATA_DIR; up to three levels deep), loads
every dataset it recognises and prints its name, kind, layout and counts; a dataset that cannot be read
is reported with its reason and does not hide the others (exit code 2 when any failed). Without a data
folder it describes the demo data.
"""
from __future__ import annotations

import argparse
import json
import sys

from .. import cli, config, flags
from ..errors import StudioError
from . import catalog, demo, layouts


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m core.datasets", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    info = sub.add_parser("info", help="list the datasets found in the data folder, with their counts")
    flags.add(info, *flags.COMMON)
    info.add_argument("--kind", choices=catalog.KINDS, action="append", help="only this kind (repeatable)")
    info.add_argument("--json", action="store_true", help="print JSON instead of text")
    sub.add_parser("layouts", help="the dataset layouts the studio reads, how each is found, its protocol")
    gen = sub.add_parser("demo", help="generate the demo data folder (once) and print its path")
    flags.add(gen, *flags.COMMON)
    args = parser.parse_args(argv)

    if args.command == "demo":
        print(demo.ensure_demo(config.cache_dir(args.cache_dir), args.seed))
        return 0
    if args.command == "layouts":
        for layout in layouts.LAYOUTS:
            print(f"{layout.title} [{layout.kind}]\n  found by: {layout.found_by}\n  protocol: {layout.protocol}")
        return 0
    kinds = args.kind or list(catalog.KINDS)
    root = catalog.check_data_dir(args.data_dir)
    if args.dataset:
        sources, errors = [], []
        for kind in kinds:
            try:
                sources.append(catalog.resolve(kind, args.data_dir, args.cache_dir, args.seed, args.dataset))
            except StudioError as exc:
                errors.append(exc)
        if not sources:
            raise errors[0]
    elif root is None:
        sources = [catalog.demo_source(k, args.cache_dir, args.seed) for k in kinds]
    else:
        sources = [s for s in catalog.discover(root) if s.kind in kinds]
    reports = [catalog.describe(s) for s in sources]
    missing = [] if args.dataset or root is None else \
        [k for k in kinds if not any(r["kind"] == k for r in reports)]
    if args.json:
        json.dump({"data_dir": str(root) if root else None, "datasets": reports,
                   "kinds_not_found": missing}, sys.stdout, indent=2)
        print()
    else:
        if root is not None:
            print(f"data folder {root}: {len(reports)} dataset(s) found")
        for r in reports:
            where = "demo data" if r["demo"] else "real data"
            print(f"{r['name']} — {catalog.TITLES[r['kind']]}, {r['format']} ({where} at {r['path']})")
            if "error" in r:
                print(f"  cannot be read: {r['error']}")
                continue
            for key, value in r["counts"].items():
                print(f"  {key}: {value:,}" if isinstance(value, int) else f"  {key}: {value}")
            for problem in r["problems"]:
                print(f"  problem: {problem}")
        for kind in missing:
            print(f"no {catalog.TITLES[kind].lower()} found (the pages use the demo data for them); "
                  f"layouts understood: {layouts.understood(kind)}")
    failed = [r for r in reports if "error" in r]
    if failed:
        print("error: " + "; ".join(f"{r['name']} cannot be read: {r['error']}" for r in failed), file=sys.stderr)
        return cli.EXIT_USER_ERROR
    return 0


if __name__ == "__main__":
    sys.exit(cli.run(main))
