"""A generic attribute table: ``image,<label columns>`` (optionally a ``person`` column).

``image`` is a path relative to the CSV's folder (or absolute). Label values are ``1`` / ``0`` (also
``true`` / ``false``, ``yes`` / ``no``); a blank cell means unknown and is masked out of the loss.
Rows whose image file is missing are reported and dropped.
"""
from __future__ import annotations

import csv
from pathlib import Path

from ..errors import DataError
from .attributes import AttributeDataset, make_frame, safe_names

TRUE = {"1", "1.0", "true", "yes", "y"}
FALSE = {"0", "0.0", "false", "no", "n"}


def load_attribute_csv(path, name: str | None = None) -> AttributeDataset:
    path = Path(path)
    if not path.is_file():
        raise DataError("attribute CSV not found", path)
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError:
        raise DataError("text is not UTF-8", path) from None
    reader = csv.reader(text.splitlines())
    header = [h.strip() for h in next(reader, [])]
    if not header or header[0] != "image":
        raise DataError("the first column must be 'image'", path, 1)
    has_person = "person" in header
    label_cols = [h for h in header[1:] if h != "person"]
    if not label_cols:
        raise DataError("no label columns after 'image'", path, 1)
    if len(set(label_cols)) != len(label_cols):
        raise DataError("a label column name appears twice", path, 1)
    names, renamed = safe_names(label_cols, path)
    rows, missing = [], 0
    subset = name or path.stem
    for lineno, cells in enumerate(reader, 2):
        if not any(c.strip() for c in cells):
            continue
        if len(cells) != len(header):
            raise DataError(f"expected {len(header)} cells, found {len(cells)}", path, lineno)
        record = dict(zip(header, (c.strip() for c in cells)))
        image = Path(record["image"])
        image = image if image.is_absolute() else path.parent / image
        if not image.is_file():
            missing += 1
            continue
        pid = record.get("person", "") if has_person else ""
        row = {"path": str(image.resolve()), "subset": subset, "pid": pid,
               "person": f"{subset}/{pid}" if pid else str(image.resolve())}
        for col, name in zip(label_cols, names):
            value = record[col].lower()
            if value == "":
                row[name] = float("nan")
            elif value in TRUE:
                row[name] = 1.0
            elif value in FALSE:
                row[name] = 0.0
            else:
                raise DataError(f"column '{col}' must be 1, 0 or blank, found '{record[col]}'", path, lineno)
        rows.append(row)
    problems = renamed + ([f"{missing} rows name image files that do not exist: dropped"] if missing else [])
    if not rows:
        raise DataError("no rows with an existing image", path)
    return AttributeDataset(subset, path.parent.resolve(), make_frame(rows, names), names, problems)
