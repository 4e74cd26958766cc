#!/usr/bin/env python
"""Benchmark: exact, IVF, HNSW and LSH indexes on 1.1M synthetic 512-d embeddings, 10,000 queries.

The embeddings have the structure of a product catalogue (eBay eProduct sizes): 16 meta categories ->
17 level-2 categories -> 1,000 leaf categories -> product lines (1-4 variants each, the hard near
duplicates) -> products -> several photos each. Every level is its parent plus Gaussian noise, scaled so
that a child has a set cosine to its parent (see COSINES). Queries are noisier views of 10,000 indexed
products; their ground truth is every index photo of that product. 1,000 more queries of other products
tune the IVF nprobe and HNSW efSearch (smallest value reaching recall@10 >= 0.95 against exact search),
so the figures are measured on queries the tuning never saw.

Per index: build seconds (training, adding; tuning reported apart), index bytes, process peak RSS during
its build + search (Linux VmHWM, reset before each index; includes the 2.25 GB of data all share),
queries/s over the 10,000 queries, speed-up over exact, neighbour recall@10 against exact search, and
MAR@10 / recall@1 / recall@10 against the synthetic ground truth.

    python bench/bench_index_1m.py [--n-index 1100000] [--n-queries 10000] [--json out.json]
        [--kinds exact,ivf,hnsw,lsh] [--hnsw-m 16] [--hnsw-ef-construction 40]
"""

from __future__ import annotations

import argparse
import gc
import platform
import resource
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from prodmatch.fileio import write_json  # noqa: E402
from prodmatch.visual.approximate import ApproximateIndex  # noqa: E402
from prodmatch.visual.indexes import create_index  # noqa: E402
from prodmatch.visual.metrics import GroundTruth, neighbour_recall, retrieval_scores  # noqa: E402

DIM = 512
N_META, N_LEVEL2, N_LEAF = 16, 17, 1000
# cosine of each child to its parent: category -> subcategory -> leaf -> product line -> product -> photo;
# a query photo is a noisier view of its product than an index photo
COSINES = {"level2": 0.75, "leaf": 0.65, "line": 0.7, "product": 0.95, "photo": 0.8, "query": 0.5}
VARIANTS_PER_LINE = np.array([1, 2, 3, 4])
VARIANTS_P = np.array([0.5, 0.25, 0.15, 0.1])
MEAN_EXTRA_PHOTOS = 3.0  # photos per product: 1 + Poisson(3)
TUNE_QUERIES = 1000
SPECTRUM_POWER = 1.0


def noise_scales(cosine: float, rng: np.random.Generator | None = None) -> np.ndarray:
    """Per-dimension noise sigmas giving a child about this cosine to its unit parent.

    Isotropic when ``rng`` is None; otherwise a power-law spectrum (variance ~ 1/rank, about 28 effective
    dimensions) over a random order of the dimensions -- image embeddings vary along few directions, and
    isotropic noise in 512-d would make every index's job unrealistically hard.
    """
    total = 1.0 / cosine**2 - 1.0  # squared norm of the noise
    if rng is None:
        return np.full(DIM, np.sqrt(total / DIM), np.float32)
    variance = 1.0 / (1.0 + rng.permutation(DIM)) ** SPECTRUM_POWER
    return np.sqrt(total * variance / variance.sum()).astype(np.float32)


def children(parents: np.ndarray, scales: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One unit vector per row of ``parents``: parent + N(0, diag(scales^2)), normalised."""
    out = parents + rng.standard_normal(parents.shape, dtype=np.float32) * scales
    out /= np.linalg.norm(out, axis=1, keepdims=True)
    return out


@dataclass
class Catalogue:
    vectors: np.ndarray  # (n_index, DIM) float32, L2-normalised
    product_of_row: np.ndarray  # int64 product of each index row
    queries: np.ndarray  # (n_queries, DIM)
    tune_queries: np.ndarray  # (TUNE_QUERIES, DIM)
    truth: GroundTruth
    n_products: int
    seconds: float


def category_centres(rng: np.random.Generator) -> np.ndarray:
    meta = rng.standard_normal((N_META, DIM), dtype=np.float32)
    meta /= np.linalg.norm(meta, axis=1, keepdims=True)
    level2_parent = np.concatenate([np.arange(N_META), rng.integers(0, N_META, N_LEVEL2 - N_META)])
    level2 = children(meta[level2_parent], noise_scales(COSINES["level2"]), rng)
    leaf_parent = np.concatenate([np.arange(N_LEVEL2), rng.integers(0, N_LEVEL2, N_LEAF - N_LEVEL2)])
    return children(level2[leaf_parent], noise_scales(COSINES["leaf"]), rng)


def plan_products(n_index: int, rng: np.random.Generator):
    """Photos per product (summing to n_index) and the product line of each product."""
    photos = 1 + rng.poisson(MEAN_EXTRA_PHOTOS, size=int(n_index / (1 + MEAN_EXTRA_PHOTOS) * 1.2) + 10)
    cut = int(np.searchsorted(np.cumsum(photos), n_index))
    photos = photos[: cut + 1]
    photos[-1] -= int(photos.sum() - n_index)
    photos = photos[photos > 0]
    variants = rng.choice(VARIANTS_PER_LINE, size=len(photos), p=VARIANTS_P)
    line_of_product = np.repeat(np.arange(len(photos)), variants)[: len(photos)]
    return photos.astype(np.int64), line_of_product.astype(np.int64)


def generate(n_index: int, n_queries: int, seed: int) -> Catalogue:
    start = time.perf_counter()
    rng = np.random.default_rng(seed)
    leaves = category_centres(rng)
    photos, line_of_product = plan_products(n_index, rng)
    n_products = len(photos)
    if n_queries + TUNE_QUERIES > n_products:
        raise ValueError(f"{n_products} products cannot give {n_queries} + {TUNE_QUERIES} distinct query products")
    leaf_of_line = rng.integers(0, N_LEAF, size=int(line_of_product.max()) + 1)
    scales = {level: noise_scales(COSINES[level], rng) for level in ("line", "product", "photo", "query")}
    lines = children(leaves[leaf_of_line], scales["line"], rng)
    picked = rng.choice(n_products, size=n_queries + TUNE_QUERIES, replace=False)
    query_products, tune_products = picked[:n_queries], picked[n_queries:]
    query_vectors = np.empty((len(picked), DIM), np.float32)
    vectors = np.empty((n_index, DIM), np.float32)
    product_of_row = np.repeat(np.arange(n_products, dtype=np.int64), photos)
    first_row = np.concatenate([[0], np.cumsum(photos)])
    block = 20_000
    for lo in range(0, n_products, block):
        hi = min(lo + block, n_products)
        products = children(lines[line_of_product[lo:hi]], scales["product"], rng)
        rows = slice(first_row[lo], first_row[hi])
        vectors[rows] = children(products[product_of_row[rows] - lo], scales["photo"], rng)
        in_block = np.flatnonzero((picked >= lo) & (picked < hi))
        query_vectors[in_block] = children(products[picked[in_block] - lo], scales["query"], rng)
    truth = GroundTruth(
        offsets=np.concatenate([[0], np.cumsum(photos[query_products])]).astype(np.int64),
        positions=np.concatenate([np.arange(first_row[p], first_row[p + 1]) for p in query_products]).astype(np.int64),
        n_index=n_index,
    )
    del tune_products
    return Catalogue(vectors, product_of_row, query_vectors[:n_queries], query_vectors[n_queries:], truth,
                     n_products, time.perf_counter() - start)


def reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS mark (VmHWM) of this process; False where unsupported."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def peak_rss_bytes() -> int:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def index_params(kind: str, args) -> dict:
    if kind == "ivf":
        return {"nprobe": 1}  # placeholder: tuned on the held-out tuning queries below
    if kind == "hnsw":
        params = {"ef_search": 16}
        if args.hnsw_m:
            params["m"] = args.hnsw_m
        if args.hnsw_ef_construction:
            params["ef_construction"] = args.hnsw_ef_construction
        return params
    return {}


def measure(kind: str, data: Catalogue, exact: dict | None, args) -> tuple[dict, np.ndarray, np.ndarray]:
    reset_peak_rss()
    index = create_index(kind, **index_params(kind, args))
    start = time.perf_counter()
    index.build(data.vectors)
    build_s = time.perf_counter() - start
    tune_s = 0.0
    tune_positions = None
    if kind == "exact":
        start = time.perf_counter()
        _, tune_positions = index.search(data.tune_queries, 10)
        tune_s = time.perf_counter() - start  # the exact reference for tuning, not part of the query timing
    elif isinstance(index, ApproximateIndex):
        start = time.perf_counter()
        index.tune(data.tune_queries, reference=exact["tune_positions"], k=10)
        tune_s = time.perf_counter() - start
    start = time.perf_counter()
    _, positions = index.search(data.queries, 10)
    search_s = time.perf_counter() - start
    scores = retrieval_scores(positions, data.truth)
    row = {
        "index": kind,
        "name": index.name,
        "build_s": round(build_s, 2),
        "tune_s": round(tune_s, 2),
        "index_bytes": int(index.memory_bytes),
        "peak_rss_bytes": peak_rss_bytes(),
        "search_s": round(search_s, 3),
        "queries_per_s": round(len(data.queries) / search_s, 1),
        "recall_at_10_vs_exact": 1.0 if exact is None else round(neighbour_recall(positions, exact["positions"], 10), 4),
        "mar_at_10": round(scores.mar_at_10, 4),
        "recall_at_1": round(scores.recall_at_1, 4),
        "recall_at_10": round(scores.recall_at_10, 4),
        "tuning": getattr(index, "tuning", None),
    }
    if row["tuning"]:
        row["tuning"] = {**row["tuning"], "recall": {str(k): round(v, 4) for k, v in row["tuning"]["recall"].items()}}
    del index
    gc.collect()
    return row, positions, tune_positions


def format_table(rows: list[dict]) -> str:
    exact_qps = next((r["queries_per_s"] for r in rows if r["index"] == "exact"), None)
    header = ("| index | parameters | build s | index MiB | peak RSS GiB | queries/s | speed-up | recall@10 vs exact "
              "| MAR@10 | recall@1 | recall@10 |")
    lines = [header, "|" + "---|" * 11]
    for r in rows:
        speedup = f"{r['queries_per_s'] / exact_qps:.1f}x" if exact_qps else "-"
        lines.append(
            f"| {r['index']} | {r['name']} | {r['build_s']:.1f} | {r['index_bytes'] / 2**20:,.0f} | "
            f"{r['peak_rss_bytes'] / 2**30:.2f} | {r['queries_per_s']:,.0f} | {speedup} | "
            f"{r['recall_at_10_vs_exact']:.4f} | {r['mar_at_10']:.4f} | {r['recall_at_1']:.4f} | "
            f"{r['recall_at_10']:.4f} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-index", type=int, default=1_100_000)
    parser.add_argument("--n-queries", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--kinds", default="exact,ivf,hnsw,lsh", help="comma-separated; exact always runs first")
    parser.add_argument("--hnsw-m", type=int, help="HNSW links per node (default: by size, see visual/approximate.py)")
    parser.add_argument("--hnsw-ef-construction", type=int, help="HNSW build beam width (default 40)")
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()
    import faiss

    kinds = ["exact"] + [k for k in args.kinds.split(",") if k and k != "exact"]
    data = generate(args.n_index, args.n_queries, args.seed)
    print(f"data: {args.n_index:,} index vectors of {data.n_products:,} products, {len(data.queries):,} queries "
          f"(+{len(data.tune_queries):,} tuning), {DIM}-d, generated in {data.seconds:.1f}s; "
          f"faiss {faiss.__version__}, {faiss.omp_get_max_threads()} threads", flush=True)
    rows, exact = [], None
    for kind in kinds:
        row, positions, tune_positions = measure(kind, data, exact, args)
        if kind == "exact":
            exact = {"positions": positions, "tune_positions": tune_positions}
        rows.append(row)
        tuned = f", tuned in {row['tune_s']:.1f}s" if row["tuning"] else ""
        print(f"{row['name']}: build {row['build_s']:.1f}s{tuned}, {row['queries_per_s']:,.0f} queries/s, "
              f"recall@10 vs exact {row['recall_at_10_vs_exact']:.4f}, MAR@10 {row['mar_at_10']:.4f}", flush=True)
    print(format_table(rows))
    if args.json:
        write_json(args.json, {
            "n_index": args.n_index, "n_queries": len(data.queries), "n_tune_queries": len(data.tune_queries),
            "dim": DIM, "n_products": data.n_products, "cosines": COSINES, "seed": args.seed,
            "generate_s": round(data.seconds, 2), "faiss": faiss.__version__, "threads": faiss.omp_get_max_threads(),
            "machine": platform.platform(), "results": rows,
        })
    return 0


if __name__ == "__main__":
    sys.exit(main())
