"""The labelling loop simulated on Abt-Buy (bench/bench_dedup.py calls :func:`simulate_labelling`): the answers a
person would give are read off gt.csv. The loop's own steps pick the pairs (prodmatch.dedup.labelling: spread
over the zero-label scores until both kinds are answered, then the pairs the model is least sure of, in batches
of 10) on the train half; after each budget of answers the model trained on them is applied to the test half."""

from __future__ import annotations

import pandas as pd

from prodmatch.dedup.flow import DedupOptions, run_dedup
from prodmatch.dedup.labelling import Session, next_pairs, no_answers, scorer
from prodmatch.dedup.labels import append_answers, read_labels
from prodmatch.dedup.scoring import score_result
from prodmatch.dedup.table import read_table

BATCH = 10


def simulate_labelling(paths: dict, work, budgets: list[int], columns) -> list[tuple[int, float, float]]:
    table = read_table(paths["train"], columns)
    truth = read_labels(paths["train_pairs"], table.ids).clusters
    session = Session.open(table)
    answered = no_answers()
    answers_file = work / "answers.csv"
    answers_file.unlink(missing_ok=True)
    print("\n## Labelling loop simulated from gt.csv (answers on the train half, model applied to the test half)")
    print("| answers | matches among them | scored by | pairwise F1 (test) | row-wise F1 (test) |\n|---|---|---|---|---|")
    results = []
    for budget in sorted(budgets):
        while len(answered) < budget:
            edges, center, scored_by = scorer(session, answered)
            batch = next_pairs(edges, answered, center, min(BATCH, budget - len(answered)))
            if len(batch) == 0:
                break
            a, b = edges.a[batch], edges.b[batch]
            match = truth[a] == truth[b]
            append_answers(answers_file, list(zip(table.ids[a], table.ids[b], match)))
            answered = pd.concat([answered, pd.DataFrame({"a": a, "b": b, "match": match})], ignore_index=True)
        train = run_dedup(DedupOptions(paths["train"], work / f"answers-{budget}", columns, labels=answers_file,
                                       overwrite=True))
        test = run_dedup(DedupOptions(paths["test"], work / f"answers-{budget}-test", model=train.out, overwrite=True))
        score = score_result(test.out, paths["test_pairs"])
        print(f"| {len(answered)} | {int(answered['match'].sum())} | {scored_by} | {score.pairwise.f1:.3f} | "
              f"{score.row_f1:.3f} |", flush=True)
        results.append((len(answered), score.pairwise.f1, score.row_f1))
    return results
