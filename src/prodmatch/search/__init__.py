"""Candidate search: dense embeddings (faiss/cuML/torch/numpy), TF-IDF titles and image phash."""

from prodmatch.search.dense import create_backend, dense_neighbours, l2_normalize
from prodmatch.search.neighbours import Neighbours
from prodmatch.search.phash import phash_neighbours
from prodmatch.search.tfidf import TfidfConfig, sparse_topk, tfidf_matrix, tfidf_neighbours

__all__ = ["Neighbours", "TfidfConfig", "create_backend", "dense_neighbours", "l2_normalize", "phash_neighbours",
           "sparse_topk", "tfidf_matrix", "tfidf_neighbours"]
