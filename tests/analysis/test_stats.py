import pytest

from harness.analysis import stats


@pytest.mark.parametrize(
    "k,n,low,high",
    [  # the continuity-corrected Wilson interval (Newcombe 1998, method 4: 0/10 is [0, 0.3445])
        (0, 10, 0.0, 0.3445),
        (5, 10, 0.2014, 0.7986),
        (10, 10, 0.6555, 1.0),
        (20, 20, 0.7995, 1.0),
        (1, 3, 0.0177, 0.8747),
    ],
)
def test_wilson_known_values(k, n, low, high):
    r = stats.wilson(k, n)
    assert r["k"] == k and r["n"] == n
    assert r["rate"] == round(k / n, 4)
    assert r["low"] == pytest.approx(low, abs=1e-4)
    assert r["high"] == pytest.approx(high, abs=1e-4)


def test_wilson_empty_and_bad_input():
    assert stats.wilson(0, 0) == {"k": 0, "n": 0, "rate": None, "low": 0.0, "high": 1.0}
    with pytest.raises(ValueError):
        stats.wilson(3, 2)


def test_wilson_interval_narrows_with_n_and_contains_rate():
    small, large = stats.wilson(3, 10), stats.wilson(300, 1000)
    assert small["low"] < 0.3 < small["high"]
    assert large["high"] - large["low"] < small["high"] - small["low"]


def test_rate_and_pool():
    assert stats.rate([True, False, True, True]) == stats.wilson(3, 4)
    assert stats.pool([stats.wilson(1, 4), stats.wilson(2, 6), stats.wilson(0, 0)]) == stats.wilson(3, 10)


def test_holm_adjustment():
    # m = 4: sorted p 0.01, 0.02, 0.03, 0.5 -> 0.04, 0.06, 0.06 (kept monotone), 0.5
    assert stats.holm([0.03, None, 0.01, 0.5, 0.02]) == [0.06, None, 0.04, 0.5, 0.06]
    assert stats.holm([0.4, 0.3]) == [0.6, 0.6]
    assert stats.holm([]) == [] and stats.holm([None]) == [None]


def test_counts_order_is_independent_of_input_order():
    values = ["b", "a", "c", "a", "b", "a"]
    assert list(stats.counts(values).items()) == [("a", 3), ("b", 2), ("c", 1)]
    assert stats.counts(reversed(values)) == stats.counts(values)
    assert list(stats.counts(values, order=["c", "z"]).items()) == [("c", 1), ("z", 0), ("a", 3), ("b", 2)]


def test_weighted_kappa_by_hand():
    # a<b<c, weights 0, 1/2, 1: observed weighted disagreement 1/2 (one pair a-b) of n=4;
    # expected 7/4 from the margins (2,1,1) x (1,2,1), so kappa = 1 - (1/2)/(7/4) = 5/7.
    pairs = [("a", "a"), ("a", "b"), ("b", "b"), ("c", "c")]
    assert stats.weighted_kappa(pairs, "abc") == (round(5 / 7, 4), None)
    assert stats.weighted_kappa([(b, a) for a, b in pairs], "abc")[0] == round(5 / 7, 4)  # symmetric


def test_weighted_kappa_orders_disagreements():
    near = [("a", "a"), ("b", "b"), ("c", "c"), ("c", "b")]
    far = [("a", "a"), ("b", "b"), ("c", "c"), ("c", "a")]
    assert stats.weighted_kappa(near, "abc")[0] > stats.weighted_kappa(far, "abc")[0]
    assert stats.weighted_kappa(near, "abc", "quadratic")[0] > stats.weighted_kappa(near, "abc")[0]


def test_weighted_kappa_edges():
    assert stats.weighted_kappa([("a", "a"), ("b", "b")], "abc") == (1.0, None)
    assert stats.weighted_kappa([("a", "b"), ("b", "a")], "ab")[0] == -1.0
    assert stats.weighted_kappa([], "abc") == (None, "no pairs compared")
    kappa, note = stats.weighted_kappa([("a", "a")], "abc")
    assert kappa is None and "same grade" in note
    with pytest.raises(ValueError):
        stats.weighted_kappa([("a", "z")], "abc")
    with pytest.raises(ValueError):
        stats.weighted_kappa([("a", "a")], "abc", "cubic")
