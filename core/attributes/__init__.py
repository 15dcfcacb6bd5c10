"""Pedestrian attribute recognition: per-attribute probabilities for a pedestrian image.

* :mod:`.labels` the standard 35 PETA attributes, exclusive groups, colours;
* :mod:`.splits` random image split (50/10/40) and person-disjoint split;
* :mod:`.models` multi-output heads (one per attribute or group) on backbone features, masked losses;
* :mod:`.metrics` label-based mA and instance-based accuracy / precision / recall / F1;
* :mod:`.train` feature caching, training, thresholds, saving / loading, prediction; CLI in ``__main__``.
"""
