"""The dedup report, ``DIR/report.html``: one self-contained page (the CV report's stylesheet and helpers,
:mod:`prodmatch.report.render`; no scripts, nothing loaded from the network).

It shows what ran (mode, sources, decision, notes, warnings), the scores against the labels when there are
some (pairwise precision/recall/F1 beside row-wise F1 and the cluster metrics; out of fold for a trained run,
with the nested estimate), how each clustering rule tuned, the cluster sizes, the pair model's strongest
features, and pairs to look at: with labels the wrong matches and the misses, without them the matches nearest
the threshold and the candidates just below it.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd

from prodmatch.dedup.clustering import Clustered, Edges
from prodmatch.dedup.metrics import edge_score
from prodmatch.dedup.table import DedupTable
from prodmatch.report.markup import esc
from prodmatch.report.paths import display_path
from prodmatch.report.render import stylesheet

EXAMPLES = 12
TEXT_CHARS = 140
TOP_FEATURES = 15


def _tiles(items: list[tuple[str, str, str]]) -> str:
    return '<div class="tiles">' + "".join(f'<div class="tile {cls}"><div class="label">{esc(label)}</div>'
                                           f'<div class="value">{esc(value)}</div></div>'
                                           for cls, label, value in items) + "</div>"


def _facts(items: list[tuple[str, str]]) -> str:
    return '<dl class="facts">' + "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in items) + "</dl>"


def _table(header: list[str], rows: list[list], numeric: set[int] = frozenset()) -> str:
    head = "".join(f'<th class="num">{esc(h)}</th>' if i in numeric else f"<th>{esc(h)}</th>"
                   for i, h in enumerate(header))
    body = "".join("<tr>" + "".join(f'<td class="num">{esc(c)}</td>' if i in numeric else f"<td>{esc(c)}</td>"
                                    for i, c in enumerate(row)) + "</tr>" for row in rows)
    return f'<table class="data"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _f(value) -> str:
    return "—" if value is None else f"{value:.4f}"


def summary_section(summary: dict) -> str:
    score = summary.get("score")
    tiles = [("main", "Mode", summary["mode"]), ("", "Records", f"{summary['n_rows']:,}"),
             ("", "Matched pairs", f"{summary['n_pairs']:,}"), ("", "Clusters", f"{summary['n_clusters']:,}")]
    if score:
        tuning = summary.get("tuning") or {}
        nested = (tuning.get("nested") or {}).get("f1")
        tiles = [("main", "Pairwise F1 (out of fold)", _f(score["pairwise"]["f1"])), ("", "Nested F1", _f(nested)),
                 ("", "Row-wise F1", _f(score["row_f1"])), ("", "Adjusted Rand", _f(score["clusters"]["adjusted_rand"])),
                 *tiles[1:]]
    columns = summary["columns"]
    facts = [("Table", display_path(summary["table"])), ("Columns", ", ".join(f"{k}={v}" for k, v in columns.items()
                                                                             if v not in (None, []))),
             ("Sources", f"{summary['recipe']}: {', '.join(summary['sources'])}"),
             ("Decision", summary["decision"]["text"]),
             ("Candidate pairs", f"{summary['n_candidate_pairs']:,} (each unordered pair once)"),
             ("Time", f"{summary['seconds']:.1f}s")]
    facts += [("Note", note) for note in summary.get("notes", [])]
    warnings = "".join(f'<div class="warn">{esc(w)}</div>' for w in summary.get("warnings", []))
    return (f'<section id="summary"><h2>Summary</h2><div class="summary">{_tiles(tiles)}{_facts(facts)}</div>'
            f"{warnings}</section>")


def scores_section(summary: dict, edges_kept_score: dict | None) -> str:
    score = summary.get("score")
    if not score:
        return ('<section id="scores"><h2>Scores</h2><p class="note">No labels for this table: score the result with '
                "<code>prodmatch score DIR --labels FILE</code>.</p></section>")
    pair, clusters = score["pairwise"], score["clusters"]
    rows = [["pairwise (pairs the clusters imply)", _f(pair["f1"]), _f(pair["precision"]), _f(pair["recall"]),
             f"{pair['true_positives']:,} of {pair['predicted']:,} predicted, {pair['actual']:,} true"]]
    if edges_kept_score:
        rows.append(["matched pairs (pairs.csv)", _f(edges_kept_score["f1"]), _f(edges_kept_score["precision"]),
                     _f(edges_kept_score["recall"]), f"{edges_kept_score['predicted']:,} pairs"])
    rows.append(["row-wise (per record, then averaged)", _f(score["row_f1"]), "", "", ""])
    tuning = summary.get("tuning") or {}
    if tuning.get("nested"):
        nested = tuning["nested"]
        rows.append(["pairwise, nested (decision tuned on the other folds)", _f(nested["f1"]), _f(nested["precision"]),
                     _f(nested["recall"]), ""])
    cluster_rows = [["adjusted Rand index", _f(clusters["adjusted_rand"])],
                    ["true clusters reproduced exactly", _f(clusters["exact_recall"])],
                    ["predicted clusters that are a true one", _f(clusters["exact_precision"])],
                    ["clusters predicted / true", f"{clusters['n_predicted']:,} / {clusters['n_true']:,}"],
                    ["records left alone", f"{clusters['singleton_share']:.1%}"]]
    where = ("out of fold: each record's pairs scored by a model that never saw its cluster"
             if summary["mode"] == "trained" else "the decision as applied to this table")
    return (f'<section id="scores"><h2>Scores</h2>'
            f"{_table(['', 'F1', 'precision', 'recall', ''], rows, {1, 2, 3})}"
            f"{_table(['cluster metric', 'value'], cluster_rows, {1})}<p class=\"note\">Against the labels, {esc(where)}."
            "</p></section>")


def tuning_section(summary: dict) -> str:
    tuning = summary.get("tuning") or {}
    by_rule = tuning.get("by_clustering") or {}
    if not by_rule:
        return ""
    chosen = tuning["decision"]["clustering"]
    rows = [[("→ " if rule == chosen else "") + rule, f"{v['threshold']:.2f}", _f(v["f1"]), _f(v["precision"]),
             _f(v["recall"])] for rule, v in by_rule.items()]
    table = _table(["clustering", "threshold", "F1", "precision", "recall"], rows, {1, 2, 3, 4})
    return (f'<section id="tuning"><h2>Decision</h2>{table}'
            '<p class="note">Each rule at its best threshold for pairwise F1 on the out-of-fold probabilities; the '
            "arrow marks the one used.</p></section>")


def sizes_section(clusters: np.ndarray, truth: np.ndarray | None) -> str:
    predicted = pd.Series(np.bincount(clusters)).value_counts().sort_index()
    actual = pd.Series(np.bincount(np.unique(truth, return_inverse=True)[1])).value_counts() if truth is not None \
        else pd.Series(dtype=np.int64)
    sizes = sorted(set(predicted.index) | set(actual.index))
    rows = [[int(s), int(predicted.get(s, 0)), "" if truth is None else int(actual.get(s, 0))] for s in sizes]
    return (f'<section id="sizes"><h2>Cluster sizes</h2>'
            f"{_table(['records per cluster', 'clusters', 'true clusters'], rows, {0, 1, 2})}</section>")


def features_section(summary: dict) -> str:
    importances = (summary.get("details") or {}).get("importances") or {}
    if not importances:
        return ""
    shares = list(importances.items())[:TOP_FEATURES]
    largest = max(v for _, v in shares) or 1.0
    rows = "".join(f"<tr><td>{esc(n)}</td><td class='num bar' style='--w:{100 * v / largest:.1f}%'>{v:.3f}</td></tr>"
                   for n, v in shares)
    return (f'<section id="features"><h2>Pair model features</h2><table class="data"><thead><tr><th>feature</th>'
            f'<th class="num">share of gain</th></tr></thead><tbody>{rows}</tbody></table></section>')


def record_text(table: DedupTable, row: int) -> str:
    frame, columns = table.frame, table.columns
    parts = [frame[columns.title].iat[row]]
    for column in (columns.brand, *columns.numbers, columns.source):
        if column and frame[column].iat[row]:
            parts.append(f"{column}: {frame[column].iat[row]}")
    text = " · ".join(parts)
    return text if len(text) <= TEXT_CHARS else text[: TEXT_CHARS - 1] + "…"


def _pair_rows(table: DedupTable, a: np.ndarray, b: np.ndarray, score: np.ndarray, extra: list[str]) -> list[list]:
    ids = table.ids
    return [[f"{ids[i]}: {record_text(table, i)}", f"{ids[j]}: {record_text(table, j)}",
             "—" if not np.isfinite(s) else f"{s:.3f}", e] for i, j, s, e in zip(a, b, score, extra)]


def examples_section(table: DedupTable, pairs: pd.DataFrame, clustered: Clustered, edges: Edges,
                     truth: np.ndarray | None, threshold: float | None, score_name: str) -> str:
    kept = clustered.kept
    reasons = dict(zip(zip(pairs["id_a"], pairs["id_b"]), pairs.get("reasons", pd.Series([""] * len(pairs)))))
    ids = table.ids
    kept_reasons = [reasons.get((ids[i], ids[j]), "") for i, j in zip(kept.a, kept.b)]
    blocks = []
    header = ["record", "record", score_name, "reasons"]
    if truth is not None:
        wrong = np.flatnonzero(truth[kept.a] != truth[kept.b])
        wrong = wrong[np.argsort(-kept.score[wrong], kind="stable")][:EXAMPLES]
        blocks.append(f"<h3>Wrong matches ({int((truth[kept.a] != truth[kept.b]).sum()):,}), most probable first</h3>"
                      + _table(header, _pair_rows(table, kept.a[wrong], kept.b[wrong], kept.score[wrong],
                                                  [kept_reasons[i] for i in wrong]), {2}))
        missed = missed_pairs(clustered.clusters, truth, edges)
        blocks.append(f"<h3>Missed pairs ({len(missed):,}), best candidate score first</h3>"
                      + _table(header[:3], [r[:3] for r in _pair_rows(table, missed["a"].to_numpy(),
                                                                        missed["b"].to_numpy(),
                                                                        missed["score"].to_numpy(),
                                                                        [""] * min(len(missed), EXAMPLES))], {2}))
    elif threshold is not None:
        nearest = np.argsort(kept.score, kind="stable")[:EXAMPLES]
        blocks.append("<h3>Least sure matches</h3>" + _table(header, _pair_rows(
            table, kept.a[nearest], kept.b[nearest], kept.score[nearest], [kept_reasons[i] for i in nearest]), {2}))
        below = np.flatnonzero(edges.score < threshold)
        below = below[np.argsort(-edges.score[below], kind="stable")][:EXAMPLES]
        blocks.append("<h3>Candidates just below the threshold</h3>" + _table(header[:3], [r[:3] for r in _pair_rows(
            table, edges.a[below], edges.b[below], edges.score[below], [""] * len(below))], {2}))
    return f'<section id="examples"><h2>Pairs to look at</h2>{"".join(blocks)}</section>'


def missed_pairs(clusters: np.ndarray, truth: np.ndarray, edges: Edges, limit: int = EXAMPLES) -> pd.DataFrame:
    """True pairs the clusters split, with the score of the candidate pair (NaN: never a candidate), best first."""
    frame = pd.DataFrame({"row": np.arange(len(truth)), "truth": truth})
    together = frame.merge(frame, on="truth")
    together = together[(together.row_x < together.row_y)]
    split = together[clusters[together.row_x.to_numpy()] != clusters[together.row_y.to_numpy()]]
    scores = pd.Series(edges.score, index=edges.a * max(edges.n, 1) + edges.b)
    keys = split.row_x.to_numpy() * max(edges.n, 1) + split.row_y.to_numpy()
    out = pd.DataFrame({"a": split.row_x.to_numpy(), "b": split.row_y.to_numpy(),
                        "score": scores.reindex(keys).to_numpy(dtype=np.float64)})
    return out.sort_values("score", ascending=False, na_position="last").head(limit).reset_index(drop=True) \
        if limit else out


def render_report(summary: dict, table: DedupTable, pairs: pd.DataFrame, clustered: Clustered, edges: Edges,
                  truth: np.ndarray | None, score_name: str) -> str:
    from prodmatch import __version__

    threshold = summary["decision"].get("threshold")
    kept_score = None
    if truth is not None:
        kept_score = edge_score(clustered.kept.a, clustered.kept.b, truth).as_dict()
    body = "\n".join([summary_section(summary), scores_section(summary, kept_score), tuning_section(summary),
                      sizes_section(clustered.clusters, truth), features_section(summary),
                      examples_section(table, pairs, clustered, edges, truth, threshold, score_name)])
    name = display_path(summary["table"])
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="prodmatch {esc(__version__)}">
<title>Dedup report: {esc(name)}</title>
<style>
{stylesheet()}</style>
</head>
<body>
<header class="top"><div class="inner">
<h1>Dedup report: {esc(name)}</h1>
<span class="sub">{summary['n_rows']:,} records &middot; {summary['n_pairs']:,} matched pairs &middot; {esc(summary['mode'])}</span>
<nav><a href="#summary">Summary</a><a href="#scores">Scores</a><a href="#sizes">Cluster sizes</a><a href="#examples">Pairs</a></nav>
</div></header>
<main>
{body}
<footer>Generated by prodmatch {esc(__version__)} on {datetime.now():%Y-%m-%d %H:%M}. Self-contained: nothing is
loaded from the network.</footer>
</main>
</body>
</html>
"""
