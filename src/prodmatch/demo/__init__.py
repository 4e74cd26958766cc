"""Synthetic data, apart from the real-data reader (:mod:`prodmatch.data`).

- :mod:`prodmatch.demo.shopee` -- the demo dataset in the Kaggle layout (``python -m prodmatch demo``), built
  from :mod:`prodmatch.demo.catalog` (products, titles) and :mod:`prodmatch.demo.images` (drawn photos);
- :mod:`prodmatch.demo.scaled` -- test sets of any size made of perturbed copies of labelled rows, for
  speed, memory and threshold-transfer rehearsals;
- :mod:`prodmatch.visual.demo` -- the visual-search demo (index/queries/ground truth, a 3-level category tree).

Importing :mod:`prodmatch.data` never loads this package.
"""

from prodmatch.demo.shopee import DemoSummary, generate_demo

__all__ = ["DemoSummary", "generate_demo"]
