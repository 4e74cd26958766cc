"""The streaming vocabulary: partitions counted, merged in order and fitted give scikit-learn's whole-table fit
exactly -- the same entries stored in the same order (which fixes every floating-point sum after it)."""

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.feature_extraction.text import CountVectorizer

from prodmatch.data.titles import clean_titles
from prodmatch.dedup.engine.corpus import FittedTfidf, FittedTokens, TermCounts, count_terms, merge_all, tfidf_rows
from prodmatch.match.pair.title_features import TOKEN_PATTERN, token_matrix
from prodmatch.search.tfidf import TfidfConfig, tfidf_matrix
from tests.dedup.conftest import make_catalogue


def identical(a: sp.csr_matrix, b: sp.csr_matrix) -> bool:
    return (a.shape == b.shape and np.array_equal(a.indptr, b.indptr) and np.array_equal(a.indices, b.indices)
            and np.array_equal(a.data, b.data) and a.dtype == b.dtype)


def partitioned_tfidf(titles, configs, weights, bounds):
    counted = [[count_terms(titles[s:e], c.vectorizer().build_analyzer()) for c in configs]
               for s, e in zip(bounds, bounds[1:])]
    fits = [FittedTfidf.fit(c, merge_all([part[i][0] for part in counted])) for i, c in enumerate(configs)]
    return sp.vstack([tfidf_rows(fits, [x[1] for x in part], weights) for part in counted], format="csr")


CONFIGS = {
    "word": ([TfidfConfig()], None),
    "char": ([TfidfConfig(analyzer="char_wb", ngram_range=(3, 4))], None),
    "two, weighted, pruned, binary": ([TfidfConfig(binary=True, min_df=2),
                                       TfidfConfig(analyzer="char", ngram_range=(2, 3), max_df=0.3)], [1.0, 0.5]),
}


@pytest.fixture(scope="module")
def titles():
    table, _ = make_catalogue(120, seed=3)
    return clean_titles(table["name"])


@pytest.mark.parametrize("name", CONFIGS)
def test_partitions_fit_the_whole_tables_tfidf_exactly(titles, name):
    configs, weights = CONFIGS[name]
    whole = tfidf_matrix(titles, configs, weights)
    for bounds in ([0, len(titles)], [0, 17, 100, len(titles)], list(range(0, len(titles), 40)) + [len(titles)]):
        assert identical(partitioned_tfidf(titles, configs, weights, bounds), whole)


def test_real_titles_fit_exactly(shopee_dir):
    titles = clean_titles(pd.read_csv(shopee_dir / "train.csv", usecols=["title"])["title"].iloc[:4000])
    for configs, weights in CONFIGS.values():
        assert identical(partitioned_tfidf(titles, configs, weights, [0, 1000, 2500, 4000]),
                         tfidf_matrix(titles, configs, weights))


def test_an_empty_vocabulary_is_a_zero_column_as_in_tfidf_matrix():
    titles = ["", "", ""]
    assert identical(partitioned_tfidf(titles, [TfidfConfig()], None, [0, 1, 3]), tfidf_matrix(titles, [TfidfConfig()]))
    pruned = [TfidfConfig(min_df=5)]  # every term pruned
    assert identical(partitioned_tfidf(["a b", "c"], pruned, None, [0, 1, 2]), tfidf_matrix(["a b", "c"], pruned))


def test_counts_merge_in_order_of_first_appearance():
    first, _ = count_terms(["b a", "a c"], str.split)
    second, _ = count_terms(["d a", "b"], str.split)
    assert first.df == {"b": 1, "a": 2, "c": 1} and list(first.df) == ["b", "a", "c"]
    merged = first.merge(second)
    assert list(merged.df) == ["b", "a", "c", "d"] and merged.df == {"b": 2, "a": 3, "c": 1, "d": 1}
    assert merged.n_docs == 4
    third = TermCounts({"e": 1, "a": 1}, 1)
    assert first.merge(second).merge(third) == first.merge(second.merge(third))  # a tree reduction is safe


def test_token_vocabulary_is_token_matrix(titles):
    whole, vocabulary = token_matrix(titles)
    analyze = CountVectorizer(token_pattern=TOKEN_PATTERN, lowercase=False).build_analyzer()
    counted = [count_terms(titles[s:e], analyze) for s, e in ((0, 50), (50, len(titles)))]
    fitted = FittedTokens.fit(merge_all([c[0] for c in counted]))
    assert fitted.vocabulary == vocabulary
    assert identical(sp.vstack([fitted.transform(c[1]) for c in counted], format="csr"), whole)
    df = np.bincount(whole.indices, minlength=whole.shape[1])
    n = len(titles)
    np.testing.assert_array_equal(fitted.normalised_idf(),
                                  (np.log((1.0 + n) / (1.0 + df)) / np.log(1.0 + n)).astype(np.float32))
