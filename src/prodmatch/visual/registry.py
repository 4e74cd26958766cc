"""The vocabularies of visual search, defined once (plain literals: importing this loads nothing heavy, so
``prodmatch index --help`` and configs can read them).

The code that implements each word checks against it: :mod:`prodmatch.visual.indexes` maps every index kind
to its class, :class:`prodmatch.visual.exact.ExactIndex` takes the exact backends, the category search takes
the category modes (tests/visual/test_registry.py keeps them in step, and the command's ``choices`` with them).
"""

from __future__ import annotations

# index kinds (prodmatch.visual.indexes.INDEX_CLASSES); "auto" picks one by size (EXACT_MAX_ROWS)
INDEX_KINDS = ("exact", "ivf", "hnsw", "lsh")
AUTO_KIND = "auto"
BUILD_KINDS = (AUTO_KIND, *INDEX_KINDS)
EXACT_MAX_ROWS = 200_000  # auto: exact up to here, IVF above (why: prodmatch.visual.indexes.choose_kind)
DEFAULT_COMPARE = ("exact", "lsh")  # kinds index eval builds from the stored embeddings beside the saved one

# who scans an exact index: the dense search backends of prodmatch.search.dense.BACKENDS except numpy (the exact
# index keeps its vectors in faiss, so faiss is always there)
EXACT_BACKENDS = ("faiss", "torch", "cuml", "auto")
DEFAULT_EXACT_BACKEND = "faiss"

# how predicted categories take part in a search (prodmatch.visual.categories)
NO_CATEGORY = "none"
CATEGORY_MODES = ("filter", "bonus")
SEARCH_CATEGORY_MODES = (NO_CATEGORY, *CATEGORY_MODES)

# photos per embedding shard (prodmatch.visual.shards)
DEFAULT_SHARD_ROWS = 4096

# the k of MAR@k (prodmatch.visual.metrics), also the results per query of index search
MAR_K = 10

# the synthetic demo folder's defaults (prodmatch.visual.demo)
DEMO_N_PRODUCTS = 300
DEMO_IMAGE_SIZE = 80
DEMO_QUERY_SHARE = 0.3
