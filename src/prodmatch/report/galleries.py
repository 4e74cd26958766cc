"""The report's error section and its galleries of example postings: the query card, each wrong match or miss
with every source's score, the threshold that would flip it and why the pair matched."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from prodmatch.report.analysis import Example, Gallery, Other, Outcome, pair_reasons, phash_distance
from prodmatch.report.markup import esc

if TYPE_CHECKING:
    from prodmatch.report.render import ReportContext

TITLE_CHARS = 160


def errors_section(ctx: ReportContext) -> str:
    e = ctx.errors
    fp_rows = "".join(f"<tr><td>matched by {esc(reason)}</td><td class='num'>{count:,}</td></tr>"
                      for reason, count in e.false_positives_by.items())
    near = " &middot; ".join(f"{esc(s)} {n:,}" for s, n in e.near_miss_by.items())
    fn_rows = (
        f"<tr><td>proposed, below every threshold</td><td class='num'>{e.fn_below_threshold:,}</td></tr>"
        f"<tr><td>never proposed by any source</td><td class='num'>{e.fn_never_proposed:,}</td></tr>"
        f"<tr><td>cleared a threshold, cut by the cap of {ctx.cv.policy.cap}</td>"
        f"<td class='num'>{e.fn_cut_by_cap:,}</td></tr>"
    )
    if e.fn_across_folds:
        fn_rows += (f"<tr><td>in different folds (out-of-fold search cannot pair them)</td>"
                    f"<td class='num'>{e.fn_across_folds:,}</td></tr>")
    return f"""<section id="errors">
<h2>Errors</h2>
<div class="side">
<table class="data"><thead><tr><th>False positives (wrong matches)</th><th class="num">{e.false_positives:,}</th>
</tr></thead><tbody>{fp_rows}</tbody></table>
<table class="data"><thead><tr><th>False negatives (missed same-group pairs)</th>
<th class="num">{e.false_negatives:,}</th></tr></thead><tbody>{fn_rows}</tbody></table>
</div>
<p class="note">Directed pairs, as the metric scores every row on its own: a wrong match a&rarr;b and b&rarr;a count
twice. {e.n_matched:,} pairs are matched in all. Missed pairs proposed by each source below its threshold: {near}.
The galleries below show the query posting (blue) and its wrong matches (red) or misses (amber), with each
source's score for the pair and the threshold that would flip it. Rows without an image file show their phash as
an 8&times;8 bit grid.</p>
</section>"""


def gallery_section(ctx: ReportContext, gallery: Gallery) -> str:
    if gallery.examples:
        body = "".join(_example(ctx, ex) for ex in gallery.examples)
    else:
        body = '<p class="note">None.</p>'
    shown = len(gallery.examples)
    return f"""<section id="{esc(gallery.key)}" class="gallery-section">
<h3>{esc(gallery.title)} <span class="note">({gallery.total:,} in all; {shown} example{'s' if shown != 1 else ''})
</span></h3>
<p class="note">{esc(gallery.description)}</p>
<div class="gallery">{body}</div>
</section>"""


def _example(ctx: ReportContext, example: Example) -> str:
    cards = [_query_card(ctx, example.query), '<span class="arrow">&rarr;</span>']
    cards += [_other_card(ctx, example.query, other) for other in example.others]
    if example.n_more:
        cards.append(f'<span class="more">+{example.n_more} more</span>')
    return f'<div class="example">{"".join(cards)}</div>'


def _picture(ctx: ReportContext, row: int) -> str:
    record = ctx.train.iloc[row]
    uri = ctx.images.thumbnail(str(record["image"]))
    title = esc(record["title"])[:80]
    if uri is not None:
        return f'<div class="pic"><img src="{uri}" alt="{title}" loading="eager"></div>'
    grid = ctx.images.phash_grid(str(record["image_phash"]))
    if grid is not None:
        return (f'<div class="pic"><img class="phash" src="{grid}" alt="phash {esc(record["image_phash"])}" '
                f'width="48" height="48"><span class="tag">no image &middot; phash</span></div>')
    return '<div class="pic"><span class="tag">no image, no phash</span></div>'


def _posting_text(ctx: ReportContext, row: int) -> str:
    record = ctx.train.iloc[row]
    title = str(record["title"])
    short = title if len(title) <= TITLE_CHARS else title[: TITLE_CHARS - 1] + "…"
    return (f'<div class="title" title="{esc(title)}">{esc(short)}</div>'
            f'<div class="meta">{esc(record["posting_id"])} &middot; group {esc(record["label_group"])}</div>')


def _query_card(ctx: ReportContext, row: int) -> str:
    o = ctx.outcome
    stats = (f"group of {int(o.n_true[row])} &middot; predicted {int(o.n_pred[row])} &middot; "
             f"F1 {o.f1[row]:.2f} (P {o.precision[row]:.2f}, R {o.recall[row]:.2f})")
    return (f'<div class="card query"><div><span class="badge query">query</span></div>{_picture(ctx, row)}'
            f'{_posting_text(ctx, row)}<div class="meta">{stats}</div></div>')


def _other_card(ctx: ReportContext, query: int, other: Other) -> str:
    o = ctx.outcome
    thresholds = o.policy.thresholds
    chips, needs = [], []
    sources = o.table.sources
    for source in sources:
        score = float(o.table.score(source)[other.pair]) if other.pair >= 0 else -np.inf
        threshold = thresholds.get(source, np.inf)
        # as the policy compares: float32 scores against the threshold
        cleared = other.pair >= 0 and source in o.cleared and bool(o.cleared[source][other.pair])
        cls = "clear" if cleared else ("below" if np.isfinite(score) else "none")
        scale = o.scales[source]
        hint = f"threshold {o.threshold_text(source, threshold)}"
        chips.append(f'<span class="chip {cls}" title="{esc(hint)}">{esc(source)} '
                     f'{esc(_score_text(scale, score, threshold, cleared))}</span>')
        if not np.isfinite(score) or not np.isfinite(threshold):
            continue
        if other.kind == "fn" and not cleared:
            needs.append(f"{source} {_needed_to_match(scale, score)}")
        elif other.kind == "fp" and cleared:
            needs.append(f"{source} {_needed_to_drop(scale, score)}")
    if other.pair >= 0:
        reason = pair_reasons(o, np.array([other.pair]))[0]
    else:
        reason = "never proposed"
    if other.kind == "fp":
        badge = '<span class="badge fp">wrong match</span>'
        why = f"by {reason}" if reason != "min2" else "added by min2"
        need_text = ("to drop it: " + " and ".join(needs)) if needs and reason != "min2" else (
            f"min2: the query's best other candidate{_floor_text(o)}" if reason == "min2" else "")
    else:
        badge = '<span class="badge fn">missed</span>'
        why = reason if reason == "never proposed" else ("below threshold" if reason == "none" else reason)
        need_text = ("would match at: " + " or ".join(needs)) if needs else ""
    record_q, record_o = ctx.train.iloc[query], ctx.train.iloc[other.row]
    extra = ""
    phash_sources = [s for s in sources if s in ctx.cv.recipe.source_names and ctx.cv.recipe.source(s).kind == "phash"]
    phash_missing = other.pair < 0 or all(not np.isfinite(o.table.score(s)[other.pair]) for s in phash_sources)
    if phash_missing:
        distance = phash_distance(str(record_q["image_phash"]), str(record_o["image_phash"]))
        if distance is not None:
            note = " (not a phash candidate)" if phash_sources else ""
            extra = f'<div class="meta">phash distance d = {distance}{note}</div>'
    need_html = f'<div class="needs">{esc(need_text)}</div>' if need_text else ""
    return (f'<div class="card {other.kind}"><div>{badge}<span class="meta">{esc(why)}</span></div>'
            f'{_picture(ctx, other.row)}{_posting_text(ctx, other.row)}<div class="chips">{"".join(chips)}</div>'
            f"{need_html}{extra}</div>")


def _score_text(scale, score: float, threshold: float, cleared: bool) -> str:
    """The pair's score; more decimals when 3 would hide which side of the threshold it is on."""
    if not np.isfinite(score):
        return "—"
    text = scale.score_text(score)
    if scale.is_distance or not np.isfinite(threshold):
        return text
    for decimals in (3, 4, 5, 6):
        shown = np.float32(round(score, decimals))
        if bool(shown >= np.float32(threshold)) == cleared:
            return f"{score:.{decimals}f}"
    return text


def _needed_to_match(scale, score: float) -> str:
    if scale.is_distance:
        return f"d ≤ {scale.distance(score):.0f}"
    return f"≥ {_floor3(score):.3f}"


def _needed_to_drop(scale, score: float) -> str:
    if scale.is_distance:
        distance = round(scale.distance(score))
        return "cannot (identical hashes)" if distance <= 0 else f"d ≤ {distance - 1}"
    return "cannot (same words)" if score >= 0.9995 else f"> {score:.3f}"


def _floor_text(outcome: Outcome) -> str:
    policy = outcome.policy
    if not np.isfinite(policy.min2_floor):
        return ""
    primary = policy.priority[0]
    return f" (floor {primary} {outcome.threshold_text(primary, policy.min2_floor)})"


def _floor3(value: float) -> float:
    """Round down to 3 decimals, so the shown threshold really matches the pair."""
    return np.floor(value * 1000) / 1000
