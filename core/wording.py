"""What a person reads: numbers in plain words and units, and each system's headline in a sentence.

One module for the words, so the CLI's table, the home page's dashboard and the presets say the same
thing the same way; the numbers come from the model cards or the benchmarks' results (``results.py``).
"""
from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal


def share(fraction: float, digits: int = 1) -> str:
    """A fraction as a percentage: 0.353 -> "35.3 %"."""
    return f"{fraction * 100:.{digits}f} %"


def percent(value, digits: int = 1) -> str:
    """A number already in percent, rounded half up as written: 66.55 -> "66.6 %" (the benchmarks' tables
    keep two decimals; people read one)."""
    return f"{Decimal(str(value)).quantize(Decimal(1).scaleb(-digits), ROUND_HALF_UP)} %"


def minutes(seconds: float) -> str:
    """A duration for people: "about 40 seconds", "about 3 minutes", "about 1 hour 10 minutes"."""
    if seconds < 60:
        return f"about {max(5, round(seconds / 5) * 5):.0f} seconds"
    m = round(seconds / 60)
    if m < 60:
        return f"about {m} minute{'s' if m != 1 else ''}"
    h, m = divmod(m, 60)
    return f"about {h} hour{'s' if h != 1 else ''}" + (f" {m} minutes" if m else "")


def reid_headline(card: dict, split: str) -> tuple[str, str, str]:
    """(metric, value, sentence) of a re-ID model card on ``split``."""
    m = card["metrics"][split]
    return ("Rank-1", share(m["Rank-1"]),
            f"The right person is the first match for {share(m['Rank-1'])} of the test persons "
            f"(mAP {share(m['mAP'])}; {split} split, {card['split'].get('test_ids', '?')} test persons).")


def clustering_headline(card: dict) -> tuple[str, str, str]:
    """(metric, value, sentence) of a prepared clustering summary: the groups, and the recommender's
    precision against the most popular films where it was evaluated."""
    m = card.get("metrics", {})
    hybrid = next((v for k, v in m.items() if k.startswith("hybrid")), None)
    popular = m.get("most popular")
    words = f"{card['best_k']} taste groups (lowest BIC; {share(card['agreement'], 0)} of seeds agree)."
    if hybrid and popular:
        words += (f" Of the 10 films recommended to each user, {share(hybrid['P@10'])} were later rated 4 stars "
                  f"or more, against {share(popular['P@10'])} for the most popular films (each user's latest "
                  "20 % of ratings held out).")
        return "Good picks in the top 10", share(hybrid["P@10"]), words
    return "Taste groups", str(card["best_k"]), words


def attributes_headline(card: dict, new_sites: str = "") -> tuple[str, str, str]:
    """(metric, value, sentence) of an attribute model card; ``new_sites``: what the benchmark measured for
    its configuration on cameras it never saw, in words ("" when not measured)."""
    name, m = next(iter(card["metrics"].items()))
    elsewhere = f" On cameras it never saw, the benchmark measured {new_sites}." if new_sites else ""
    return ("mA", share(m["mA"]),
            f"Mean accuracy over the attributes, balanced between yes and no, is {share(m['mA'])} "
            f"({name} split, {card.get('split', {}).get('test', '?')} test images; 50 % is chance).{elsewhere}")
