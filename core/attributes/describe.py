"""A person described in words from a model's (calibrated) probabilities.

Some attributes answer one question together: a person wears one kind of lower-body garment and one
kind of footwear, is male or female, has short or long sleeves (PETA: at most 0.4 % of images have two
of a set). Such a set shows one choice, its most probable member, and the runner-up when it is within
``CLOSE`` (15 points) of it, instead of every member that passes a threshold. A set of one attribute
has its complement as the other choice (``male`` / ``female``): the more probable of the two is said.
A model's one-of groups (age) are sets too. Every other attribute is said when its probability reaches
its F1 threshold (``AttributeModel.thresholds_for("f1")``), the rule that keeps rare attributes from
switching on easily.
"""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from . import labels as L

CLOSE = 0.15
EXCLUSIVE = {
    "lower-body garment": ["lowerBodyJeans", "lowerBodyTrousers", "lowerBodyShorts", "lowerBodyShortSkirt"],
    "footwear": ["footwearLeatherShoes", "footwearSandals", "footwearShoes", "footwearSneaker"],
    "top style": ["upperBodyCasual", "upperBodyFormal"],
    "bottom style": ["lowerBodyCasual", "lowerBodyFormal"],
    "gender": ["personalMale"],
    "sleeves": ["upperBodyShortSleeve"],
}
COMPLEMENT = {"personalMale": "female", "upperBodyShortSleeve": "long sleeves"}
GROUP_NONE = {"age": "aged under 16"}


@dataclass(frozen=True)
class Choice:
    question: str                  # "gender", "footwear", "age", ... (an attribute said on its own: itself)
    answer: str                    # words
    probability: float
    runner_up: str | None = None   # when within CLOSE of the answer
    runner_up_probability: float | None = None
    said: str | None = None        # the attribute the answer asserts (None: a complement, "female", or none)
    members: tuple = ()            # the attributes the question is about

    def words(self) -> str:
        text = f"{self.answer} ({self.probability:.0%}"
        if self.runner_up is not None:
            text += f"; or {self.runner_up}, {self.runner_up_probability:.0%}"
        return text + ")"


def _choose(question: str, options: list[tuple[str, float, str | None]], members) -> Choice:
    options = sorted(options, key=lambda o: -o[1])
    (answer, p, said), rest = options[0], options[1:]
    if rest and p - rest[0][1] <= CLOSE:
        return Choice(question, answer, p, rest[0][0], rest[0][1], said, tuple(members))
    return Choice(question, answer, p, said=said, members=tuple(members))


def describe(probs: pd.Series, binary: list[str], groups: dict[str, list[str]],
             thresholds: dict[str, float]) -> tuple[list[Choice], list[Choice]]:
    """``(choices, also)`` for one image's probabilities: one ``Choice`` per exclusive set the model has in
    full and per one-of group; ``also``: a ``Choice`` for every other binary attribute at or above its
    threshold, most probable first. What they assert (``said_attributes``) is what a chart marks."""
    choices = []
    for g, members in groups.items():
        options = [(L.words(m), float(probs[m]), m) for m in members]
        options.append((GROUP_NONE.get(g, f"no {g} given"), float(probs[f"{g}: none"]), None))
        choices.append(_choose(g, options, members))
    in_sets = set()
    for question, members in EXCLUSIVE.items():
        if not all(m in binary for m in members):
            continue
        in_sets.update(members)
        options = [(L.words(m), float(probs[m]), m) for m in members]
        if len(members) == 1:
            options.append((COMPLEMENT[members[0]], 1 - options[0][1], None))
        choices.append(_choose(question, options, members))
    also = [Choice(a, L.words(a), float(probs[a]), said=a, members=(a,)) for a in binary
            if a not in in_sets and float(probs[a]) >= thresholds.get(a, 0.5)]
    return choices, sorted(also, key=lambda c: -c.probability)


def said_attributes(choices: list[Choice], also: list[Choice]) -> set[str]:
    """The attributes the description asserts: the one rule for the words and the chart's marks."""
    return {c.said for c in list(choices) + list(also) if c.said}


def sentence(choices: list[Choice], also: list[tuple[str, float]]) -> str:
    """The description as one line: the choices, then the other attributes said, with probabilities."""
    return ", ".join(c.words() for c in list(choices) + list(also))
