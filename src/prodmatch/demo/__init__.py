"""Synthetic data, apart from the real-data reader (:mod:`prodmatch.data`).

- :mod:`prodmatch.demo.shopee` -- the demo dataset in the Kaggle layout (``python -m prodmatch demo``), built
  from :mod:`prodmatch.demo.catalog` (products), :mod:`prodmatch.demo.titles` (titles), :mod:`prodmatch.demo.objects`
  (drawn products) and :mod:`prodmatch.demo.images` (photos of them);
- :mod:`prodmatch.demo.scaled` -- test sets of any size made of perturbed copies of labelled rows, for
  speed, memory and threshold-transfer rehearsals.

The visual-search demo (index/queries/ground truth, a 3-level category tree) is the visual wing's:
:mod:`prodmatch.visual.demo`, drawn with this package's catalogue and photos. Importing :mod:`prodmatch.data`
never loads this package, and this package imports none of its modules.
"""
