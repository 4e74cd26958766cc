"""The report's plots, drawn with matplotlib's object API (no pyplot, no display) and returned as SVG data URIs.

SVG keeps them sharp at any zoom and small; text stays text (``svg.fonttype: none``) and the output is
deterministic (fixed hash salt, no date in the metadata).
"""

from __future__ import annotations

import io
import math

import numpy as np
import pandas as pd

from prodmatch.report.images import data_uri

COLORS = {"f1": "#1f5fbf", "precision": "#2e9d5b", "recall": "#d9822b", "chosen": "#444444", "union": "#b03a7a"}
_RC = {
    "svg.fonttype": "none",
    "svg.hashsalt": "prodmatch-report",
    "font.family": "sans-serif",
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "grid.linewidth": 0.6,
    "legend.frameon": False,
}


def _figure(width: float, height: float):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=100, layout="constrained")


def _svg_uri(figure) -> str:
    import matplotlib

    buffer = io.BytesIO()
    with matplotlib.rc_context(_RC):
        figure.savefig(buffer, format="svg", metadata={"Date": None, "Creator": "prodmatch report"})
    return data_uri(buffer.getvalue(), "image/svg+xml")


def threshold_curve(source: str, points: list[dict], scale, chosen: float | None = None,
                    in_policy: float | None = None) -> str:
    """F1, precision and recall of ``source`` alone against its threshold, on its ``scale``'s axis (phash:
    Hamming distance).

    ``chosen``: the source's best threshold alone (solid marker line); ``in_policy``: its threshold in the
    final union policy (dashed), when different and not off.
    """
    import matplotlib

    frame = pd.DataFrame(points).sort_values("threshold")
    phash = scale.is_distance
    x = frame["threshold"].map(scale.display).to_numpy()
    to_x = scale.display
    with matplotlib.rc_context(_RC):
        figure = _figure(5.2, 3.1)
        ax = figure.add_subplot()
        for metric in ("f1", "precision", "recall"):
            ax.plot(x, frame[metric], color=COLORS[metric], lw=2 if metric == "f1" else 1.3, label=metric.capitalize()
                    if metric != "f1" else "F1", marker="o" if phash else None, ms=3)
        if chosen is not None and np.isfinite(chosen):
            best = frame.iloc[int(np.argmin(np.abs(frame["threshold"].to_numpy() - chosen)))]
            ax.axvline(to_x(chosen), color=COLORS["chosen"], lw=1, ls="-")
            ax.plot([to_x(chosen)], [best["f1"]], "o", color=COLORS["f1"], ms=6, mec="white", zorder=5)
            label = f"d ≤ {to_x(chosen):.0f}" if phash else f"{chosen:.2f}"
            ax.annotate(f"alone: {label}\nF1 {best['f1']:.3f}", (to_x(chosen), best["f1"]), xytext=(6, -26),
                        textcoords="offset points", fontsize=8, color=COLORS["chosen"])
        if in_policy is not None and np.isfinite(in_policy) and (chosen is None or abs(in_policy - chosen) > 1e-9):
            ax.axvline(to_x(in_policy), color=COLORS["union"], lw=1, ls="--",
                       label=f"in policy: {f'd ≤ {to_x(in_policy):.0f}' if phash else f'{in_policy:.2f}'}")
        elif in_policy is not None and np.isfinite(in_policy):
            ax.plot([], [], color=COLORS["chosen"], lw=1, label="also in policy")
        ax.set_xlabel(scale.axis_label(source))
        ax.set_ylim(0, 1.02)
        ax.set_title(f"{source} alone", fontsize=10, loc="left")
        ax.legend(loc="lower left" if phash else "lower right", fontsize=8, ncol=2)
        return _svg_uri(figure)


def group_size_plot(frame: pd.DataFrame) -> str:
    """Mean F1 per true group size bin (bars), precision and recall (markers), rows per bin under the ticks."""
    import matplotlib

    with matplotlib.rc_context(_RC):
        figure = _figure(max(5.2, 0.55 * len(frame) + 1.5), 3.1)
        ax = figure.add_subplot()
        x = np.arange(len(frame))
        bars = ax.bar(x, frame["f1"], color=COLORS["f1"], alpha=0.85, width=0.7, label="F1")
        ax.plot(x, frame["precision"], "o-", color=COLORS["precision"], ms=4, lw=1, label="Precision")
        ax.plot(x, frame["recall"], "s-", color=COLORS["recall"], ms=4, lw=1, label="Recall")
        for bar, value in zip(bars, frame["f1"]):
            ax.annotate(f"{value:.2f}", (bar.get_x() + bar.get_width() / 2, 0), xytext=(0, 3),
                        textcoords="offset points", ha="center", fontsize=7, color="white")
        ax.set_xticks(x, [f"{s}\n{_short(n)}" for s, n in zip(frame["size"], frame["n_rows"])], fontsize=7.5)
        ax.set_xlabel("true group size (rows per bin below)")
        ax.set_ylim(0, 1.1)
        ax.set_title("F1 by true group size", fontsize=10, loc="left")
        ax.legend(loc="lower right", bbox_to_anchor=(1.0, 0.99), fontsize=8, ncol=3)
        ax.grid(axis="x", visible=False)
        return _svg_uri(figure)


RULE_COLORS = ("#b03a7a", "#1f5fbf", "#2e9d5b", "#d9822b")


def pool_size_plot(curves: list[tuple[str, list[float], list[float], object]], test_size: int | None) -> str:
    """Each rule's F1 on pools of growing size (solid, measured) and, dashed, to its forecast for ``test_size``
    postings with the forecast's range as an error bar. ``curves``: (label, sizes, f1, ExpectedF1 or None)."""
    import matplotlib

    with matplotlib.rc_context(_RC):
        figure = _figure(5.6, 3.1)
        ax = figure.add_subplot()
        for (label, sizes, f1, expected), color in zip(curves, RULE_COLORS):
            ax.plot(sizes, f1, "o-", color=color, ms=4, lw=1.4, label=label)
            if expected is not None and expected.extrapolated:
                ax.plot([sizes[-1], expected.n_rows], [f1[-1], expected.f1], "--", color=color, lw=1.2)
                ax.errorbar([expected.n_rows], [expected.f1], yerr=[[expected.f1 - expected.low],
                                                                    [expected.high - expected.f1]],
                            fmt="D", color=color, ms=5, capsize=3, lw=1)
                ax.annotate(f"{expected.f1:.3f}", (expected.n_rows, expected.f1), xytext=(5, 0),
                            textcoords="offset points", fontsize=7.5, color=color, va="center")
        if test_size:
            ax.axvline(test_size, color=COLORS["chosen"], lw=0.8, ls=":")
            ax.annotate(f"test: {_short(test_size)} postings", (test_size, 1.0), xytext=(-4, -2),
                        textcoords="offset points", ha="right", va="top", fontsize=7.5, color=COLORS["chosen"])
        ax.set_xscale("log", base=2)
        ticks = sorted({round(s) for _, sizes, _, _ in curves for s in sizes} | ({test_size} if test_size else set()))
        ax.set_xticks(ticks, [_short(t) for t in ticks], fontsize=7.5)
        ax.minorticks_off()
        ax.set_xlabel("postings matched together (pool size, log scale)")
        ax.set_ylabel("row-wise F1")
        ax.set_ylim(min([0.5] + [e.low - 0.02 for _, _, _, e in curves if e is not None]), 1.0)
        ax.set_title("F1 against pool size: measured, and forecast for the test", fontsize=10, loc="left")
        ax.legend(loc="lower left", fontsize=8)
        return _svg_uri(figure)


def _short(n: int) -> str:
    if n >= 10_000:
        return f"{n / 1000:.0f}k"
    if n >= 1000:
        return f"{n / 1000:.1f}k"
    return str(int(n)) if not (isinstance(n, float) and math.isnan(n)) else ""
