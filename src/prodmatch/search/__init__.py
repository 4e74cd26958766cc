"""Candidate search: dense embeddings (faiss/cuML/torch/numpy), TF-IDF titles and image phash.

- :mod:`~prodmatch.search.dense`       dense kNN backends (``dense_neighbours``, ``create_backend``, ``l2_normalize``);
- :mod:`~prodmatch.search.tfidf`       TF-IDF top-k of titles; :mod:`~prodmatch.search.phash` Hamming range search;
- :mod:`~prodmatch.search.neighbours`  ``Neighbours``, the scored-pairs format every source returns;
- :mod:`~prodmatch.search.sources`, :mod:`~prodmatch.search.features`, :mod:`~prodmatch.search.scales`,
  :mod:`~prodmatch.search.blending`    the candidate sources, their inputs and score scales.

Import the module you need: this package imports none of them, so reading one (the dense backends, say)
does not load scikit-learn for TF-IDF.
"""
