"""Source scales: tuning grids and how thresholds and scores print."""

import numpy as np

from prodmatch.search.scales import COSINE, HAMMING, HammingScale


def test_cosine_scale():
    grid = COSINE.grid()
    assert len(grid) == 90 and grid[0] == 0.1 and grid[-1] == 0.99
    assert COSINE.threshold_text(0.45) == "0.450" and COSINE.threshold_text(0.45, html=True) == "≥ 0.450"
    assert COSINE.threshold_text(np.inf) == "off" and COSINE.score_text(-np.inf) == "not proposed"
    assert not COSINE.is_distance and COSINE.display(0.3) == 0.3


def test_hamming_scale_works_in_whole_distances():
    grid = HAMMING.grid()
    np.testing.assert_allclose(grid, 1 - np.arange(17) / 64, atol=1e-6)
    assert HAMMING.threshold_text(1 - 8 / 64) == "d<=8" and HAMMING.threshold_text(1 - 8 / 64, html=True) == "d ≤ 8"
    assert HAMMING.score_text(1 - 3 / 64) == "d = 3" and HAMMING.display(1 - 5 / 64) == 5
    assert len(HammingScale(max_distance=4).grid()) == 5 and HAMMING.is_distance
