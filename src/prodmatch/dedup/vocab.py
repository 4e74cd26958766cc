"""The vocabularies of ``prodmatch dedup``, defined once (argparse choices, saved files and the flow read them).

Imports nothing heavy.
"""

from __future__ import annotations

# result files: pairs.csv and clusters.csv always, the same tables as Parquet on request
CSV = "csv"
PARQUET = "parquet"
OUTPUT_FORMATS = (CSV, PARQUET)

# input tables, by file suffix
TABLE_SUFFIXES = {".csv": CSV, ".parquet": PARQUET, ".pq": PARQUET}

# how a run decided: a pair model trained on labels, a saved one applied, no labels at all, or new records
# matched against a kept catalogue
TRAINED = "trained"
APPLIED = "applied"
ZERO_LABEL = "zero-label"
ADDED = "added"
MODES = (TRAINED, APPLIED, ZERO_LABEL, ADDED)

# how matched pairs become clusters (prodmatch.dedup.clustering)
COMPONENTS = "components"  # connected components of every pair above the threshold
BEST_EDGE = "best-edge"  # each record keeps only its most probable pair above the threshold
ONE_TO_ONE = "one-to-one"  # pairs taken best first, each record in at most one pair
CLUSTERINGS = (COMPONENTS, BEST_EDGE, ONE_TO_ONE)

# label files (prodmatch.dedup.labels), by their columns
PAIRS = "pairs"  # id_a, id_b: every matching pair (records in no pair match nothing)
CLUSTERS = "clusters"  # id, cluster_id for every record
ANSWERS = "answers"  # id_a, id_b, match (1/0): some pairs judged (the labelling loop writes them)
LABEL_KINDS = (PAIRS, CLUSTERS, ANSWERS)

# pretrained text encoders a dedup recipe may add as a source (--encoder)
ENCODERS = ("none", "minilm")

# what runs the heavy steps (prodmatch.dedup.engine): this process, or a Dask cluster by partitions
SINGLE = "single"
DASK = "dask"
ENGINES = (SINGLE, DASK)
