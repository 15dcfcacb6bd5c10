"""The dataset layer: one loader per on-disk format, plus the demo generator and the catalogue.

* :mod:`.viper` two-camera folders, :mod:`.folders` one folder per identity, :mod:`.splits` id splits;
* :mod:`.movielens` ratings and movies;
* :mod:`.peta` PETA, :mod:`.attribute_csv` a generic attribute table;
* :mod:`.demo` the embedded demo data; :mod:`.catalog` which data is in use.
"""
from .attributes import AttributeDataset
from .base import ReidDataset
from .catalog import KINDS, Source, load, resolve, summary
from .movielens import MovieLens

__all__ = ["AttributeDataset", "ReidDataset", "MovieLens", "KINDS", "Source", "load", "resolve", "summary"]
