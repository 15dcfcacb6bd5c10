"""Attribute sets.

``PETA35`` is the standard 35-attribute list used in the PETA literature (DeepMAR, Rethinking_of_PAR).
Groups of mutually exclusive labels are trained as one softmax head each (``GROUPS``); the rest are
independent sigmoid heads. A group head also learns "none of these" where a person has none of its
labels (for age, PETA's ``personalLess15``); an image whose group labels are unknown is masked out.
"""
from __future__ import annotations

import numpy as np

PETA35 = [
    "personalLess30", "personalLess45", "personalLess60", "personalLarger60", "carryingBackpack",
    "carryingOther", "lowerBodyCasual", "upperBodyCasual", "lowerBodyFormal", "upperBodyFormal",
    "accessoryHat", "upperBodyJacket", "lowerBodyJeans", "footwearLeatherShoes", "upperBodyLogo", "hairLong",
    "personalMale", "carryingMessengerBag", "accessoryMuffler", "accessoryNothing", "carryingNothing",
    "upperBodyPlaid", "carryingPlasticBags", "footwearSandals", "footwearShoes", "lowerBodyShorts",
    "upperBodyShortSleeve", "lowerBodyShortSkirt", "footwearSneaker", "upperBodyThinStripes",
    "accessorySunglasses", "lowerBodyTrousers", "upperBodyTshirt", "upperBodyOther", "upperBodyVNeck",
]
GROUPS = {"age": ["personalLess30", "personalLess45", "personalLess60", "personalLarger60"]}
COLOURS = ["Black", "Blue", "Brown", "Green", "Grey", "Orange", "Pink", "Purple", "Red", "White", "Yellow"]
# Optional colour attributes. PETA gives a person several colours at once (a white shirt under a black
# jacket), so each colour is its own sigmoid head, not a softmax group.
COLOUR_GROUPS = {f"{part} colour": [f"{part}{c}" for c in COLOURS] for part in ("upperBody", "lowerBody")}

WORDS = {
    "personalLess30": "aged 16-30", "personalLess45": "aged 31-45", "personalLess60": "aged 46-60",
    "personalLarger60": "aged over 60", "personalMale": "male", "carryingBackpack": "backpack",
    "carryingMessengerBag": "messenger bag", "carryingPlasticBags": "plastic bag", "carryingOther": "carrying something",
    "carryingNothing": "carrying nothing", "accessoryHat": "hat", "accessoryMuffler": "muffler",
    "accessorySunglasses": "sunglasses", "accessoryNothing": "no accessory", "hairLong": "long hair",
    "upperBodyJacket": "jacket", "upperBodyTshirt": "T-shirt", "upperBodyShortSleeve": "short sleeves",
    "upperBodyLogo": "logo on top", "upperBodyPlaid": "plaid top", "upperBodyThinStripes": "striped top",
    "upperBodyVNeck": "V-neck", "upperBodyCasual": "casual top", "upperBodyFormal": "formal top",
    "upperBodyOther": "other top", "lowerBodyJeans": "jeans", "lowerBodyTrousers": "trousers",
    "lowerBodyShorts": "shorts", "lowerBodyShortSkirt": "short skirt", "lowerBodyCasual": "casual bottom",
    "lowerBodyFormal": "formal bottom", "footwearLeatherShoes": "leather shoes", "footwearSandals": "sandals",
    "footwearShoes": "shoes", "footwearSneaker": "sneakers",
}


def words(attribute: str) -> str:
    if attribute in WORDS:
        return WORDS[attribute]
    for part, name in (("upperBody", "top"), ("lowerBody", "bottom")):
        colour = attribute[len(part):]
        if attribute.startswith(part) and colour in COLOURS:
            return f"{colour.lower()} {name}"
    return attribute


def available(attributes: list[str], wanted: list[str] | None = None) -> list[str]:
    """The wanted attributes (default PETA35) that the dataset has; all of the dataset's when none match."""
    wanted = PETA35 if wanted is None else wanted
    found = [a for a in wanted if a in attributes]
    return found or list(attributes)


def layout(attributes: list[str], groups: dict[str, list[str]] | None = None):
    """Split attributes into (binary list, {group: members}) keeping only groups fully present."""
    groups = GROUPS if groups is None else groups
    used = {g: m for g, m in groups.items() if all(a in attributes for a in m)}
    in_group = {a for m in used.values() for a in m}
    return [a for a in attributes if a not in in_group], used


def group_targets(labels: np.ndarray, attributes: list[str], members: list[str]) -> np.ndarray:
    """Class index per image for a group head: member index, ``len(members)`` for "none", -1 unknown."""
    cols = [attributes.index(m) for m in members]
    block = labels[:, cols]
    unknown = np.isnan(block).any(1)
    filled = np.nan_to_num(block)
    target = np.where(filled.sum(1) > 0, filled.argmax(1), len(members))
    return np.where(unknown, -1, target).astype(np.int64)
