"""The command line's common flags: declared once (core.flags), the same help and defaults everywhere."""
import argparse

import pytest

from core import flags


def test_flags_are_declared_once_with_their_defaults_and_overrides():
    p = flags.add(argparse.ArgumentParser(), *flags.COMMON, "weights", "model-dir")
    args = p.parse_args([])
    assert (args.data_dir, args.cache_dir, args.dataset, args.weights, args.model_dir, args.seed) == \
        (None, None, None, None, None, 0)
    assert p.parse_args(["--seed", "3", "--weights", "w.h5"]).seed == 3
    strict = flags.add(argparse.ArgumentParser(), "data-dir", required={"data-dir"})
    with pytest.raises(SystemExit):
        strict.parse_args([])
    seeded = flags.add(argparse.ArgumentParser(), "seed", seed={"default": 7})
    assert seeded.parse_args([]).seed == 7


def test_every_command_line_takes_the_common_flags_from_one_place():
    """No CLI or benchmark declares --weights, --data-dir, ... by hand."""
    import re

    from core.config import PROJECT_ROOT

    hand = re.compile(r"add_argument\(\s*\"--(data-dir|cache-dir|model-dir|weights|seed|dataset)\"")
    files = [*PROJECT_ROOT.glob("core/**/*.py"), *PROJECT_ROOT.glob("bench/*.py")]
    found = [f"{f.relative_to(PROJECT_ROOT)}: {m.group(1)}" for f in files for m in hand.finditer(f.read_text())]
    assert not found, found
