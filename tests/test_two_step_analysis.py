"""Tests for the two-step behavioural analysis and its stay-probability figure."""

from __future__ import annotations

import json
import math
from collections.abc import Callable

import matplotlib.figure
import matplotlib.pyplot as plt
import numpy as np
import pytest

from harlow.two_step import analysis, plots
from harlow.two_step.analysis import (
    CLASSES,
    logistic_regression,
    model_based_indices,
    stay_probabilities,
    summarize,
)
from harlow.two_step.plots import plot_stay_probabilities

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

# One hand-built episode. The class of trial t-1 and whether trial t repeats its action:
#   t-1: 0 rc stay | 1 rr switch | 2 rr stay | 3 rr switch | 4 uc switch
#        5 ur stay | 6 uc switch | 7 ur stay | 8 ur switch | 9 rc (last trial: unused)
HAND_ACTIONS = [[0, 0, 1, 1, 0, 1, 1, 0, 0, 1]]
HAND_COMMON = [[1, 0, 0, 0, 1, 0, 1, 0, 0, 1]]
HAND_REWARDED = [[1, 1, 1, 1, 0, 0, 0, 0, 0, 1]]
HAND_EXPECTED = {
    "rewarded_common": (1, 1),
    "rewarded_rare": (3, 1),
    "unrewarded_common": (2, 0),
    "unrewarded_rare": (3, 2),
}

StayRule = Callable[[np.ndarray, np.ndarray], np.ndarray]


def _simulate(
    stay_prob: StayRule, episodes: int = 100, trials: int = 100, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Actions of an agent that stays with probability stay_prob(prev_rewarded, prev_common)."""
    rng = np.random.default_rng(seed)
    common = rng.random((episodes, trials)) < 0.8
    rewarded = rng.random((episodes, trials)) < 0.5
    actions = np.empty((episodes, trials), dtype=int)
    actions[:, 0] = rng.integers(0, 2, size=episodes)
    for t in range(1, trials):
        stay = rng.random(episodes) < stay_prob(rewarded[:, t - 1], common[:, t - 1])
        actions[:, t] = np.where(stay, actions[:, t - 1], 1 - actions[:, t - 1])
    return actions, common, rewarded


def _model_free(rewarded: np.ndarray, common: np.ndarray) -> np.ndarray:
    return np.where(rewarded, 0.8, 0.3)


def _model_based(rewarded: np.ndarray, common: np.ndarray) -> np.ndarray:
    return np.where(rewarded == common, 0.8, 0.3)


def _logit(p: float) -> float:
    return math.log(p / (1 - p))


def test_hand_built_episode_gives_exact_counts() -> None:
    stay = stay_probabilities(HAND_ACTIONS, HAND_COMMON, HAND_REWARDED)
    assert tuple(stay) == CLASSES
    for name, (n, stays) in HAND_EXPECTED.items():
        assert stay[name] == {"p_stay": stays / n, "n": n, "stays": stays}, name


def test_accepts_bool_and_int_encodings_equally() -> None:
    as_bool = stay_probabilities(
        np.array(HAND_ACTIONS), np.array(HAND_COMMON, bool), np.array(HAND_REWARDED, bool)
    )
    as_float = stay_probabilities(
        np.array(HAND_ACTIONS, float), HAND_COMMON, np.array(HAND_REWARDED, float)
    )
    assert as_bool == as_float == stay_probabilities(HAND_ACTIONS, HAND_COMMON, HAND_REWARDED)


def test_stays_are_not_counted_across_episode_boundaries() -> None:
    # Episode 0 ends on action 1 after a rewarded common trial and episode 1 starts on
    # action 1: pairing across the boundary would add a rewarded_common stay (n=3, stays=2).
    actions = [[0, 1], [1, 1]]
    all_true = [[True, True], [True, True]]
    stay = stay_probabilities(actions, all_true, all_true)
    assert stay["rewarded_common"] == {"p_stay": 0.5, "n": 2, "stays": 1}
    flattened = stay_probabilities([[0, 1, 1, 1]], [[True] * 4], [[True] * 4])
    assert flattened["rewarded_common"]["n"] == 3


def test_empty_class_gives_nan_with_zero_count() -> None:
    stay = stay_probabilities([[0, 0, 1]], [[1, 1, 1]], [[1, 1, 1]])
    for name in ("rewarded_rare", "unrewarded_common", "unrewarded_rare"):
        assert stay[name]["n"] == 0 and stay[name]["stays"] == 0
        assert math.isnan(stay[name]["p_stay"])
    assert stay["rewarded_common"] == {"p_stay": 0.5, "n": 2, "stays": 1}


def test_model_based_indices_are_differences_of_stay_probabilities() -> None:
    indices = model_based_indices(stay_probabilities(HAND_ACTIONS, HAND_COMMON, HAND_REWARDED))
    assert indices["rewarded_common_minus_rare"] == pytest.approx(1 - 1 / 3)
    assert indices["unrewarded_rare_minus_common"] == pytest.approx(2 / 3 - 0)


def test_deterministic_model_free_agent_has_exact_stay_probabilities() -> None:
    actions, common, rewarded = _simulate(lambda r, c: r.astype(float), episodes=20, trials=50)
    stay = stay_probabilities(actions, common, rewarded)
    assert stay["rewarded_common"]["p_stay"] == stay["rewarded_rare"]["p_stay"] == 1.0
    assert stay["unrewarded_common"]["p_stay"] == stay["unrewarded_rare"]["p_stay"] == 0.0
    assert sum(s["n"] for s in stay.values()) == 20 * 49
    with pytest.raises(ValueError, match="logistic regression failed: .*separation"):
        logistic_regression(actions, common, rewarded)


def test_regression_matches_closed_form_of_saturated_model() -> None:
    # With +/-1 coding the model has one parameter per class, so the MLE reproduces the
    # per-class logits: e.g. interaction = (L_rc - L_rr - L_uc + L_ur) / 4.
    actions, common, rewarded = _simulate(_model_based, episodes=20, trials=50, seed=3)
    stay = stay_probabilities(actions, common, rewarded)
    lg = {name: _logit(stay[name]["p_stay"]) for name in CLASSES}
    rc, rr, uc, ur = (lg[name] for name in CLASSES)
    fit = logistic_regression(actions, common, rewarded)
    assert fit["intercept"]["coef"] == pytest.approx((rc + rr + uc + ur) / 4, abs=1e-6)
    assert fit["reward"]["coef"] == pytest.approx((rc + rr - uc - ur) / 4, abs=1e-6)
    assert fit["transition"]["coef"] == pytest.approx((rc - rr + uc - ur) / 4, abs=1e-6)
    assert fit["interaction"]["coef"] == pytest.approx((rc - rr - uc + ur) / 4, abs=1e-6)
    assert fit["n"] == 20 * 49


def test_stochastic_model_free_agent_loads_on_reward_not_interaction() -> None:
    actions, common, rewarded = _simulate(_model_free)
    fit = logistic_regression(actions, common, rewarded)
    expected_reward = (_logit(0.8) - _logit(0.3)) / 2
    assert fit["n"] == 100 * 99
    assert fit["reward"]["coef"] > 10 * fit["reward"]["se"]
    assert abs(fit["reward"]["coef"] - expected_reward) < 3 * fit["reward"]["se"]
    assert abs(fit["interaction"]["coef"]) < 3 * fit["interaction"]["se"]
    assert abs(fit["transition"]["coef"]) < 3 * fit["transition"]["se"]


def test_stochastic_model_based_agent_loads_on_interaction_not_reward() -> None:
    actions, common, rewarded = _simulate(_model_based)
    fit = logistic_regression(actions, common, rewarded)
    expected_interaction = (_logit(0.8) - _logit(0.3)) / 2
    assert fit["interaction"]["se"] < 0.05
    assert fit["interaction"]["coef"] > 10 * fit["interaction"]["se"]
    assert abs(fit["interaction"]["coef"] - expected_interaction) < 3 * fit["interaction"]["se"]
    assert abs(fit["reward"]["coef"]) < 3 * fit["reward"]["se"]
    stay = stay_probabilities(actions, common, rewarded)
    indices = model_based_indices(stay)
    assert indices["rewarded_common_minus_rare"] > 0.4
    assert indices["unrewarded_rare_minus_common"] > 0.4


def test_regression_with_unobserved_class_fails_clearly() -> None:
    actions = [[0, 0, 1, 1, 0, 0]]
    never_rare = [[1] * 6]
    with pytest.raises(ValueError, match="logistic regression failed: no trials follow"):
        logistic_regression(actions, never_rare, [[1, 0, 1, 0, 1, 0]])


@pytest.mark.parametrize(
    ("exog", "endog"),
    [
        # Perfectly separated by the second column.
        (np.column_stack([np.ones(8), np.repeat([1.0, -1.0], 4)]), np.repeat([1.0, 0.0], 4)),
        # Duplicate column: singular design.
        (
            np.column_stack([np.ones(8), np.tile([1.0, -1.0], 4), np.tile([1.0, -1.0], 4)]),
            np.array([1.0, 0, 1, 1, 0, 0, 1, 0]),
        ),
    ],
    ids=["separation", "singular"],
)
def test_fit_logit_rejects_unidentified_designs(exog: np.ndarray, endog: np.ndarray) -> None:
    with pytest.raises(ValueError, match="logistic regression failed"):
        analysis._fit_logit(endog, exog)


@pytest.mark.parametrize("function", [stay_probabilities, logistic_regression, summarize])
@pytest.mark.parametrize(
    ("actions", "common", "rewarded", "argument"),
    [
        ([[0, 1, 0]], [[1, 1]], [[1, 0, 1]], "common"),
        ([[0, 1, 0]], [[1, 1, 0]], [[1, 0, 1], [1, 1, 1]], "rewarded"),
        ([[0, 2, 0]], [[1, 1, 0]], [[1, 0, 1]], "actions"),
        ([0, 1, 0], [1, 1, 0], [1, 0, 1], "actions"),
        ([[0], [1]], [[1], [1]], [[1], [0]], "actions"),
        ([[0, 1, 0]], [[1, 1, 0]], [[1, 0.5, 1]], "rewarded"),
    ],
    ids=["common-shape", "rewarded-shape", "action-2", "1d", "one-trial", "rewarded-0.5"],
)
def test_invalid_inputs_raise_value_error_naming_the_argument(
    function: Callable[..., dict],
    actions: list,
    common: list,
    rewarded: list,
    argument: str,
) -> None:
    with pytest.raises(ValueError, match=rf"^{argument}\b"):
        function(actions, common, rewarded)


def test_summarize_is_strict_json_and_reports_regression_errors() -> None:
    summary = summarize([[0, 0, 1]], [[1, 1, 1]], [[1, 1, 0]])
    json.dumps(summary, allow_nan=False)
    assert summary["stay_probabilities"]["rewarded_rare"]["p_stay"] is None
    assert summary["regression"]["error"].startswith("logistic regression failed")
    assert summary["reward_per_trial"] == pytest.approx(2 / 3)
    assert (summary["episodes"], summary["trials_per_episode"]) == (1, 3)


def test_summarize_combines_all_statistics() -> None:
    actions, common, rewarded = _simulate(_model_based, episodes=10, trials=60, seed=1)
    rewards = rewarded * 2.0
    summary = summarize(actions, common, rewarded, rewards)
    json.dumps(summary, allow_nan=False)
    stay = stay_probabilities(actions, common, rewarded)
    assert summary["stay_probabilities"] == stay
    assert summary["model_based_indices"] == model_based_indices(stay)
    assert summary["regression"] == logistic_regression(actions, common, rewarded)
    assert summary["reward_per_trial"] == pytest.approx(rewards.mean())
    assert (summary["episodes"], summary["trials_per_episode"]) == (10, 60)
    with pytest.raises(ValueError, match="rewards_per_trial"):
        summarize(actions, common, rewarded, rewards[:, :-1])


def _seed_results(n_seeds: int) -> list[dict]:
    return [
        stay_probabilities(*_simulate(_model_based, episodes=5, trials=40, seed=seed))
        for seed in range(n_seeds)
    ]


@pytest.mark.parametrize("n_seeds", [1, 3])
def test_plot_writes_png_atomically(tmp_path, n_seeds: int) -> None:
    path = tmp_path / "nested" / "dir" / "stay.png"
    plot_stay_probabilities(_seed_results(n_seeds), path)
    data = path.read_bytes()
    assert data.startswith(PNG_MAGIC) and len(data) > 1000
    assert [p.name for p in path.parent.iterdir()] == ["stay.png"]
    assert plt.get_fignums() == []


def test_plot_failure_leaves_no_temp_file_and_keeps_old_png(tmp_path, monkeypatch) -> None:
    path = tmp_path / "stay.png"
    path.write_bytes(b"old")

    def broken_savefig(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", broken_savefig)
    with pytest.raises(OSError, match="disk full"):
        plot_stay_probabilities(_seed_results(1), str(path))
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["stay.png"]
    assert plt.get_fignums() == []


def test_plot_bars_are_seed_means_and_title_counts_seeds() -> None:
    per_seed = _seed_results(3)
    fig = plots._stay_figure(per_seed, "Stay")
    try:
        ax = fig.axes[0]
        heights = [bar.get_height() for bar in ax.patches]
        order = ("rewarded_common", "unrewarded_common", "rewarded_rare", "unrewarded_rare")
        expected = [np.mean([stay[name]["p_stay"] for stay in per_seed]) for name in order]
        assert heights == pytest.approx(expected)
        assert ax.get_title() == "Stay (3 seeds)"
        assert ax.get_ylim() == (0.5, 1.0)
        assert ax.get_ylabel() == "P(stay)"
        assert [t.get_text() for t in ax.get_xticklabels()] == ["Rewarded", "Unrewarded"]
        assert [t.get_text() for t in ax.get_legend().get_texts()] == ["Common", "Rare"]
        assert sum(len(c.get_offsets()) for c in ax.collections) == 4 * 3
    finally:
        plt.close(fig)


def test_plot_rejects_empty_seed_list(tmp_path) -> None:
    with pytest.raises(ValueError, match="per_seed"):
        plot_stay_probabilities([], tmp_path / "stay.png")
    assert list(tmp_path.iterdir()) == []


def test_plot_accepts_json_reports_with_empty_classes(tmp_path) -> None:
    per_seed = _seed_results(2)
    per_seed[1]["rewarded_rare"] = {"p_stay": None, "n": 0, "stays": 0}  # as in report.json
    fig = plots._stay_figure(per_seed, "Stay")
    try:
        heights = [bar.get_height() for bar in fig.axes[0].patches]
        assert heights[2] == pytest.approx(per_seed[0]["rewarded_rare"]["p_stay"])
    finally:
        plt.close(fig)
