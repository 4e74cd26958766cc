"""``prodmatch dedup``: deduplicate any product table (CSV or Parquet), beyond the Kaggle layout.

The flow (:mod:`prodmatch.dedup.flow`) reads a table and its column mapping (:mod:`~prodmatch.dedup.table`),
picks the sources the data allows (:mod:`~prodmatch.dedup.sources`), then either trains the pair model and
its decision on labels (:mod:`~prodmatch.dedup.train`), applies a saved one (:mod:`~prodmatch.dedup.apply`)
or matches without labels (:mod:`~prodmatch.dedup.zero_label`), and writes pairs, clusters and a report.
Each step is a function over arrays or frames, so it can later run per partition.
"""
