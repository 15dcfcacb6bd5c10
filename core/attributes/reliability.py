"""How far to trust each attribute on a camera the model never saw: its balanced accuracy on PETA's sites
left out of training (the leave-one-site-out benchmark, ``bench/results/attributes-cross-site*.json``,
"Per attribute over the held-out subsets": each attribute's mA, meaned over the held-out sites and
seeds), in words beside every answer, and the rule that greys out the answers not worth stating.

Across sites the features rank some attributes well (long hair, shorts, gender) and others near chance
(age, shoe type, accessories): an answer whose reliability on new sites is under ``TRUSTED`` is shown
greyed, not as a finding. The numbers are the benchmark's for the model's own configuration (backbone,
input size, pooling) where it was run, else the recommended configuration's, and the source says which.
"""
from __future__ import annotations

from dataclasses import dataclass

from .. import results

TRUSTED = 0.60            # balanced accuracy on new sites below this: greyed, not a finding
SECTION = "Per attribute over the held-out subsets"
PREFERRED = "attributes-cross-site-mid-ensemble"       # the recommended configuration's (core.recommended)


@dataclass(frozen=True)
class Reliability:
    per_attribute: dict            # attribute -> balanced accuracy on held-out sites, 0..1
    source: str                    # the results file
    own_configuration: bool        # measured for this model's backbone, else for the recommended one
    sites: int                     # held-out sites (x seeds) it is the mean over, at most

    def of(self, attribute: str) -> float | None:
        return self.per_attribute.get(attribute)

    def trusted(self, attribute: str) -> bool:
        """Unknown attributes are not greyed: nothing was measured against them."""
        b = self.of(attribute)
        return b is None or b >= TRUSTED

    def where(self) -> str:
        which = "this model's configuration" if self.own_configuration else \
            "the recommended configuration (this model's was not benchmarked across sites)"
        return f"measured on PETA's sites left out of training ({self.source}, {which})"


def words(balanced_accuracy: float | None) -> str:
    """``0.8`` -> "right about 4 times in 5 on new cameras"; near 0.5 -> "close to a coin toss ..."; under
    ``TRUSTED`` but above that, "little better than a coin toss ..." (a greyed answer never reads like a
    trusted one)."""
    if balanced_accuracy is None:
        return "not measured on new cameras"
    b = float(balanced_accuracy)
    if b < 0.565:
        return "close to a coin toss on new cameras"
    if b < TRUSTED:
        return "little better than a coin toss on new cameras"
    # the simple fraction k in n (n up to 10) nearest to b
    k, n = min(((k, n) for n in (2, 3, 4, 5, 10) for k in range(1, n)), key=lambda kn: (abs(kn[0] / kn[1] - b), kn[1]))
    return f"right about {k} times in {n} on new cameras"


def _candidates() -> list[str]:
    names = sorted(p.stem for p in results.RESULTS.glob("attributes-cross-site*.json"))
    return sorted(names, key=lambda n: n != PREFERRED)


def for_card(card: dict) -> Reliability | None:
    """The reliability table for a model (its card's backbone: ``name-HxW-pooling``), or None where no
    leave-one-site-out result has a per-attribute table."""
    spec = card.get("backbone") or {}
    key = f"{spec.get('name', 'xception')}-{spec.get('height')}x{spec.get('width')}-{spec.get('pooling')}"
    tables = []
    for name in _candidates():
        try:
            rows = results.rows(name, SECTION)
            backbone = results.info(name).get("backbone")
        except results.ResultsError:
            continue
        tables.append((name, backbone == key, rows))
    if not tables:
        return None
    name, own, rows = next((t for t in tables if t[1]), tables[0])
    model = rows[0]["model"]                          # the file's first model (its heads row)
    per = {r["attribute"]: float(r["mean mA"]) / 100 for r in rows if r["model"] == model}
    sites = max((int(r.get("subsets with positives", 0)) for r in rows if r["model"] == model), default=0)
    return Reliability(per, name, own, sites)


def of_answer(choice, rel: Reliability | None) -> float | None:
    """The reliability on new cameras of one answer (``describe.Choice``): of the attribute it asserts, else
    (a complement such as "female", or none of a group) the mean of its question's attributes'."""
    if rel is None:
        return None
    if choice.said and rel.of(choice.said) is not None:
        return rel.of(choice.said)
    known = [rel.of(m) for m in choice.members if rel.of(m) is not None]
    return sum(known) / len(known) if known else None


def worded(answers, rel: Reliability | None) -> list[tuple[str, bool]]:
    """``(words, trusted)`` per answer: "long hair (84%) — right about 4 times in 5 on new cameras";
    ``trusted`` is False under ``TRUSTED`` (to be greyed, not stated as a finding)."""
    out = []
    for c in answers:
        b = of_answer(c, rel)
        out.append((c.words() + ("" if rel is None else f" — {words(b)}"), b is None or b >= TRUSTED))
    return out
