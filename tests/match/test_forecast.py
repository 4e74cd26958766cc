"""The size forecast, recomputed by hand, and on curves whose future is known."""

import numpy as np
import pytest

from prodmatch.match.forecast import SizeForecast


def test_both_laws_from_the_two_largest_pools_by_hand():
    forecast = SizeForecast([1000.0, 2000.0, 4000.0], [0.95, 0.90, 0.86])
    expected = forecast.at(16_000)
    high = 0.86 - 0.04 * 2  # the same loss per doubling: two more doublings
    low = 0.86 - 0.04 / 2000 * 12_000  # the same loss per extra posting
    assert (expected.high, expected.low) == (pytest.approx(high), pytest.approx(low))
    assert expected.f1 == pytest.approx((high + low) / 2) and expected.extrapolated
    assert expected.text() == f"expected F1 at 16000 postings: {(high + low) / 2:.3f} ({low:.3f}-{high:.3f})"


@pytest.mark.parametrize("law, bound", [(lambda n: 0.99 - 0.03 * np.log2(n / 500), "high"),
                                        (lambda n: 0.95 - 4e-6 * n, "low")])
def test_a_curve_that_follows_one_law_is_forecast_exactly_by_that_end(law, bound):
    sizes = [1000.0, 2000.0, 4000.0, 8000.0]
    forecast = SizeForecast(sizes, [law(n) for n in sizes])
    expected = forecast.at(70_000)
    assert getattr(expected, bound) == pytest.approx(law(70_000))
    assert expected.low <= law(70_000) + 1e-9 and law(70_000) <= expected.high + 1e-9


def test_inside_the_measured_sizes_it_interpolates_and_never_forecasts_a_gain():
    forecast = SizeForecast([1000.0, 4000.0], [0.9, 0.8])
    inside = forecast.at(2000)
    assert inside.f1 == pytest.approx(0.85) and not inside.extrapolated and inside.text().endswith("0.850")
    rising = SizeForecast([1000.0, 2000.0], [0.80, 0.82]).at(8000)
    assert rising.f1 == rising.low == rising.high == pytest.approx(0.82)
    assert SizeForecast([1000.0], [0.9]).at(2000) is None and SizeForecast([1000.0], [0.9]).at(500).f1 == 0.9
    assert SizeForecast.from_dict(forecast.as_dict()) == forecast


def test_bad_curves_are_refused():
    with pytest.raises(ValueError, match="ascending"):
        SizeForecast([2000.0, 1000.0], [0.9, 0.8])
    with pytest.raises(ValueError, match="one F1 per pool size"):
        SizeForecast([1000.0], [0.9, 0.8])
