"""helpers.verdicts: every sentence says what its numbers say, in every case (derived in lesson 04 §5)."""

from __future__ import annotations

import itertools
import math

import pytest

from helpers.verdicts import (
    Estimate,
    by_budget,
    compare,
    compare_each,
    listed,
    margin,
    mean_of,
    rank,
    rate,
    say,
    tied_with_best,
)

GAPS = (-0.05, -0.021, -0.019, 0.0, 0.019, 0.021, 0.05)  # around the margin 0.02 of two SEs of 0.00707


@pytest.mark.parametrize("gap, lower_is_better", list(itertools.product(GAPS, (True, False))))
def test_compare_says_better_only_beyond_two_standard_errors(gap, lower_is_better):
    se = 0.01 / math.sqrt(2)  # margin(a, b) = 2 * sqrt(2) * se = 0.02
    a, b = Estimate(0.1 + gap, se), Estimate(0.1, se)
    assert margin(a, b) == pytest.approx(0.02)
    sentence = compare("A", a, "B", b, "KID", lower_is_better)
    if abs(gap) <= 0.02:
        assert rank(a, b, lower_is_better) == 0
        assert "cannot rank" in sentence and "better" not in sentence
    else:
        a_better = (gap < 0) == lower_is_better
        assert rank(a, b, lower_is_better) == (-1 if a_better else 1)
        expected = "A is better than B" if a_better else "B is better than A"
        assert sentence.startswith(expected), sentence
    assert a.show() in sentence and b.show() in sentence  # the numbers behind the words are printed with them


def test_rate_has_the_binomial_standard_error_and_refuses_counts():
    assert rate(0.5, 100).se == pytest.approx(0.05)
    assert rate(0.0, 50).se == 0.0
    with pytest.raises(ValueError, match="divide a count"):
        rate(3, 50)
    with pytest.raises(ValueError, match="n > 0"):
        rate(0.5, 0)


def test_tied_with_best_keeps_only_those_within_the_margin_of_the_best():
    estimates = {"far": Estimate(0.30, 0.01), "best": Estimate(0.10, 0.01), "close": Estimate(0.12, 0.01)}
    assert tied_with_best(estimates) == ["best", "close"]
    assert tied_with_best(estimates, lower_is_better=False) == ["far"]


def test_bad_estimates_and_lists():
    with pytest.raises(ValueError, match="finite"):
        Estimate(float("nan"), 0.1)
    with pytest.raises(ValueError, match="SE >= 0"):
        Estimate(0.1, -1.0)
    assert [listed([]), listed([5]), listed([5, 10]), listed([5, 10, 20])] == ["none", "5", "5 and 10", "5, 10 and 20"]


def test_mean_of_has_the_standard_error_of_a_mean_and_takes_tensors():
    import numpy as np
    import torch

    values = [1.0, 2.0, 3.0, 4.0]  # std (n - 1) = 1.291, SE = 1.291 / 2
    assert mean_of(values).value == 2.5 and mean_of(values).se == pytest.approx(np.std(values, ddof=1) / 2)
    assert mean_of(torch.tensor([[1.0, 2.0], [3.0, 4.0]])).value == pytest.approx(2.5)
    assert mean_of(np.array(values)).se == pytest.approx(0.6455, abs=1e-4)
    with pytest.raises(ValueError, match="at least 2 values"):
        mean_of([1.0])


def test_compare_each_sorts_the_settings_by_the_verdict_of_each():
    se = 0.01 / math.sqrt(2)  # margin 0.02, as above
    pairs = {
        "low": (Estimate(0.10, se), Estimate(0.15, se)),  # A lower by 0.05: A better
        "mid": (Estimate(0.10, se), Estimate(0.11, se)),  # within
        "high": (Estimate(0.20, se), Estimate(0.10, se)),  # B lower by 0.10: B better
        "top": (Estimate(0.30, se), Estimate(0.20, se)),
    }
    sentence = compare_each("A", "B", pairs, "KID")
    assert sentence == (
        "On KID, A against B: A is better beyond two standard errors for low; B is better beyond two standard "
        "errors for high and top; the two are within two standard errors for mid."
    )
    flipped = compare_each("A", "B", pairs, "accuracy", lower_is_better=False)
    assert "A is better beyond two standard errors for high and top" in flipped
    assert compare_each("A", "B", {"x": pairs["mid"]}, "KID") == (
        "On KID, A against B: the two are within two standard errors for x."
    )


def test_by_budget_sorts_each_budget_by_its_own_error_bars():
    a = {5: Estimate(0.10, 0.01), 10: Estimate(0.20, 0.01), 20: Estimate(0.30, 0.01)}
    b = {5: Estimate(0.20, 0.01), 10: Estimate(0.21, 0.01), 20: Estimate(0.10, 0.01)}
    assert (
        by_budget("A", a, "B", b, "KID") == "by KID, A is better at NFE 5, B is better at NFE 20 and neither at NFE 10"
    )
    same = {5: Estimate(0.20, 0.01), 10: Estimate(0.21, 0.01)}
    assert by_budget("A", same, "B", same, "KID") == "by KID, neither A nor B is better at any NFE (5 and 10)"
    assert by_budget("A", {5: a[5]}, "B", {5: b[5]}, "KID") == "by KID, A is better at NFE 5"  # no empty clause
    assert by_budget("A", a, "B", b, "accuracy", lower_is_better=False).startswith(
        "by accuracy, A is better at NFE 20,"
    )
    with pytest.raises(ValueError, match="same budgets"):
        by_budget("A", a, "B", {5: b[5]}, "KID")


def test_say_prints_whole_words_within_the_output_area(capsys):
    sentence = compare(
        "the reflowed flow", Estimate(0.084, 0.011), "the first flow", Estimate(0.849, 0.005), "the energy distance"
    )
    say(sentence * 3)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) > 1 and all(len(line) <= 100 for line in lines)
    assert " ".join(lines) == (sentence * 3).strip()  # nothing lost or split inside a word, hyphens kept
