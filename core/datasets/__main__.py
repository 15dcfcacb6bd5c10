"""``python -m core.datasets info | demo``: what data is in use, and the demo generator."""
from __future__ import annotations

import argparse
import json
import sys

from .. import cli, config
from . import catalog, demo


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m core.datasets", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    info = sub.add_parser("info", help="print which data is in use and its counts")
    cli.add_common_flags(info)
    info.add_argument("--kind", choices=catalog.KINDS, action="append", help="only this kind (repeatable)")
    info.add_argument("--json", action="store_true", help="print JSON instead of text")
    gen = sub.add_parser("demo", help="generate the demo data folder (once) and print its path")
    cli.add_common_flags(gen)
    args = parser.parse_args(argv)

    if args.command == "demo":
        print(demo.ensure_demo(config.cache_dir(args.cache_dir), args.seed))
        return 0
    report = {}
    for kind in args.kind or catalog.KINDS:
        source = catalog.resolve(kind, args.data_dir, args.cache_dir, args.seed)
        dataset = catalog.load(source)
        report[kind] = {"source": str(source.path), "demo": source.is_demo, "note": source.note,
                        "counts": catalog.summary(kind, dataset), "problems": list(dataset.problems)}
    if args.json:
        json.dump(report, sys.stdout, indent=2)
        print()
    else:
        for kind, r in report.items():
            print(f"{catalog.TITLES[kind]}: {'demo' if r['demo'] else 'real'} data at {r['source']}")
            if r["note"]:
                print(f"  note: {r['note']}")
            for key, value in r["counts"].items():
                print(f"  {key}: {value}")
            for problem in r["problems"]:
                print(f"  problem: {problem}")
    return 0


if __name__ == "__main__":
    sys.exit(cli.run(main))
