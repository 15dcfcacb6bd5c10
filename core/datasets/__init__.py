"""The dataset layer: one loader per published layout, plus the demo generator and the catalogue.

* re-ID: :mod:`.viper` two cameras, :mod:`.prid` PRID 2011, :mod:`.market` Market-1501 / DukeMTMC-reID,
  :mod:`.grid` GRID, :mod:`.cuhk01` CUHK01, :mod:`.folders` one folder per identity; :mod:`.splits`
  identity splits and the query / gallery images of a split;
* ratings: :mod:`.movielens` the CSV releases, :mod:`.ratings_formats` 100K, 1M / 10M, a generic CSV;
* attributes: :mod:`.peta` PETA, :mod:`.pa100k` PA-100K, :mod:`.attribute_csv` a generic attribute table;
* :mod:`.layouts` the table of layouts (how each is recognised), :mod:`.catalog` the datasets found in the
  data folder and which one is in use, :mod:`.demo` the embedded demo data.
"""
from .attributes import AttributeDataset
from .base import ReidDataset
from .catalog import KINDS, Source, load, resolve, summary
from .movielens import MovieLens

__all__ = ["AttributeDataset", "ReidDataset", "MovieLens", "KINDS", "Source", "load", "resolve", "summary"]
