"""Visual search (eBay eProduct style, arXiv 2107.05856): query photos searched against a catalogue index.

The flows, one per ``prodmatch index`` action:

- :mod:`~prodmatch.visual.build`     ``index build``: sharded, resumable embedding (torchrun ranks), then the index;
- :mod:`~prodmatch.visual.search`    ``index search``: open an index and its model, each query's top k;
- :mod:`~prodmatch.visual.evaluate`  ``index eval`` / ``index compare``: MAR@10, recall@k, latency;
- :mod:`~prodmatch.visual.demo`      ``index demo``: the synthetic visual-search folder.

What they share:

- :mod:`~prodmatch.visual.registry`  the vocabularies (index kinds, exact backends, category modes, defaults);
- :mod:`~prodmatch.visual.identity`  which model embeds an index (what build records, search and eval check);
- :mod:`~prodmatch.visual.model`     that model opened: a trained run's fold models or a bare backbone;
- :mod:`~prodmatch.visual.layout`    the visual-search folder (index.csv, queries.csv, ground_truth.csv);
- :mod:`~prodmatch.visual.folder`    the index folder (manifest, shards, rows, index), results CSV, eval JSON;
- :mod:`~prodmatch.visual.shards`    sharded, resumable embedding of a table, split across ranks;
- :mod:`~prodmatch.visual.indexes`   the index kinds: ``create_index``, ``choose_kind``, ``load_index``, over
  :mod:`~prodmatch.visual.vector_index` (the interface), :mod:`~prodmatch.visual.exact`,
  :mod:`~prodmatch.visual.approximate` (IVF, HNSW) and :mod:`~prodmatch.visual.lsh`;
- :mod:`~prodmatch.visual.categories` filter or re-rank candidates by predicted category;
- :mod:`~prodmatch.visual.metrics`   MAR@10, recall@k, neighbour recall;
- :mod:`~prodmatch.visual.gpu_check` the exact index on a GPU, for bench/gpu_check.py.

Import the module you need: this package imports none of them (the registry alone loads nothing heavy).
"""
