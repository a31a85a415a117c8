"""Behavioural analysis of the two-step task (Daw et al. 2011; Wang et al. 2018, Fig. 5).

All functions take arrays of shape ``[episodes, trials]``: the first-stage action (0 or 1),
whether the transition was common, and whether the trial was rewarded. Trial ``t`` is a
'stay' when its first-stage action equals that of trial ``t - 1`` in the same episode;
it is classified by the previous trial's reward and transition. Trials are never paired
across episode boundaries.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import numpy.typing as npt
import statsmodels.api as sm
from statsmodels.tools.sm_exceptions import (
    ConvergenceWarning,
    HessianInversionWarning,
    PerfectSeparationError,
    PerfectSeparationWarning,
)

CLASSES = ("rewarded_common", "rewarded_rare", "unrewarded_common", "unrewarded_rare")
REGRESSORS = ("intercept", "reward", "transition", "interaction")

_FIT_WARNINGS = (ConvergenceWarning, HessianInversionWarning, PerfectSeparationWarning)


def _as_binary(name: str, values: npt.ArrayLike) -> np.ndarray:
    """Return ``values`` as a 2-D boolean array, or raise ValueError naming ``name``."""
    array = np.asarray(values)
    if array.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array [episodes, trials], got shape {array.shape}")
    if array.dtype == bool:
        return array
    if not np.issubdtype(array.dtype, np.number):
        raise ValueError(f"{name} must be boolean or numeric, got dtype {array.dtype}")
    invalid = ~np.isin(array, (0, 1))
    if invalid.any():
        raise ValueError(f"{name} values must be 0 or 1, found {array[invalid][0]!r}")
    return array.astype(bool)


def _validated(
    actions: npt.ArrayLike, common: npt.ArrayLike, rewarded: npt.ArrayLike
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validate the three input arrays and return them as boolean arrays of equal shape."""
    actions_b = _as_binary("actions", actions)
    common_b = _as_binary("common", common)
    rewarded_b = _as_binary("rewarded", rewarded)
    for name, array in (("common", common_b), ("rewarded", rewarded_b)):
        if array.shape != actions_b.shape:
            raise ValueError(
                f"{name} has shape {array.shape} but actions has shape {actions_b.shape}"
            )
    episodes, trials = actions_b.shape
    if episodes < 1:
        raise ValueError("actions must contain at least one episode, got 0")
    if trials < 2:
        raise ValueError(f"actions must have at least 2 trials per episode, got {trials}")
    return actions_b, common_b, rewarded_b


def _transitions(
    actions: npt.ArrayLike, common: npt.ArrayLike, rewarded: npt.ArrayLike
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return flat (stay, previous rewarded, previous common) for every within-episode pair."""
    actions_b, common_b, rewarded_b = _validated(actions, common, rewarded)
    stay = actions_b[:, 1:] == actions_b[:, :-1]
    return stay.ravel(), rewarded_b[:, :-1].ravel(), common_b[:, :-1].ravel()


def _class_masks(prev_rewarded: np.ndarray, prev_common: np.ndarray) -> dict[str, np.ndarray]:
    """Boolean masks selecting the trials that follow each class of previous trial."""
    return {
        "rewarded_common": prev_rewarded & prev_common,
        "rewarded_rare": prev_rewarded & ~prev_common,
        "unrewarded_common": ~prev_rewarded & prev_common,
        "unrewarded_rare": ~prev_rewarded & ~prev_common,
    }


def _stay_counts(
    stay: np.ndarray, prev_rewarded: np.ndarray, prev_common: np.ndarray
) -> dict[str, dict[str, Any]]:
    """Per-class stay counts and probabilities from flat within-episode trial pairs."""
    result = {}
    for name, mask in _class_masks(prev_rewarded, prev_common).items():
        n = int(mask.sum())
        stays = int(stay[mask].sum())
        result[name] = {"p_stay": stays / n if n else math.nan, "n": n, "stays": stays}
    return result


def stay_probabilities(
    actions: npt.ArrayLike, common: npt.ArrayLike, rewarded: npt.ArrayLike
) -> dict[str, dict[str, Any]]:
    """Probability of repeating the first-stage action, by the previous trial's outcome.

    Args:
        actions: First-stage actions in {0, 1}, shape [episodes, trials] with trials >= 2.
        common: Whether each trial's transition was common (bool or 0/1), same shape.
        rewarded: Whether each trial was rewarded (bool or 0/1), same shape.

    Returns:
        For each name in ``CLASSES``, ``{"p_stay": float, "n": int, "stays": int}`` where
        ``n`` counts the trials that follow a trial of that class and ``stays`` how many of
        them repeated the action. ``p_stay`` is NaN when ``n`` is 0.

    Raises:
        ValueError: If an argument is not 2-D, the shapes differ, there are fewer than two
            trials per episode, or a value is not 0/1.
    """
    return _stay_counts(*_transitions(actions, common, rewarded))


def _check_identifiable(stay: dict[str, dict[str, Any]]) -> None:
    """Raise ValueError when the saturated stay regression has no finite maximum likelihood.

    With an intercept and +/-1 coded reward, transition and interaction the model has one
    parameter per class of previous trial, so the fit is exactly the per-class logit of
    ``p_stay``: it exists iff every class is observed and has both stays and switches.
    """
    empty = [name for name in CLASSES if stay[name]["n"] == 0]
    if empty:
        raise ValueError(
            f"logistic regression failed: no trials follow a {' or '.join(empty)} trial, "
            "so the design matrix is singular"
        )
    for name in CLASSES:
        n, stays = stay[name]["n"], stay[name]["stays"]
        if stays in (0, n):
            kind = "never" if stays == 0 else "always"
            raise ValueError(
                f"logistic regression failed: the agent {kind} stays after {name} trials "
                f"(n={n}), so the coefficients are not identified (perfect separation)"
            )


def _fit_logit(endog: np.ndarray, exog: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Fit ``sm.Logit`` and return (params, standard errors).

    Raises:
        ValueError: If the design is singular, statsmodels reports separation, failed
            convergence or a non-invertible Hessian, or the estimates are not finite.
    """
    rank = np.linalg.matrix_rank(exog)
    if rank < exog.shape[1]:
        raise ValueError(
            f"logistic regression failed: design matrix is singular "
            f"(rank {rank} < {exog.shape[1]} columns)"
        )
    with warnings.catch_warnings():
        for category in _FIT_WARNINGS:
            warnings.simplefilter("error", category)
        try:
            fit = sm.Logit(endog, exog).fit(disp=0)
        except (*_FIT_WARNINGS, PerfectSeparationError, np.linalg.LinAlgError) as exc:
            raise ValueError(f"logistic regression failed: {exc}") from exc
    params, bse = np.asarray(fit.params), np.asarray(fit.bse)
    if not (np.all(np.isfinite(params)) and np.all(np.isfinite(bse))):
        raise ValueError("logistic regression failed: non-finite coefficients or standard errors")
    return params, bse


def logistic_regression(
    actions: npt.ArrayLike, common: npt.ArrayLike, rewarded: npt.ArrayLike
) -> dict[str, Any]:
    """Logistic regression of stay on the previous trial's reward, transition and interaction.

    Uses the coding of Daw et al. (2011): reward is +1 (rewarded) / -1 (unrewarded),
    transition is +1 (common) / -1 (rare), interaction is their product, plus an intercept.
    A model-free learner loads on ``reward``; a model-based learner on ``interaction``.

    Args:
        actions: First-stage actions in {0, 1}, shape [episodes, trials] with trials >= 2.
        common: Whether each trial's transition was common (bool or 0/1), same shape.
        rewarded: Whether each trial was rewarded (bool or 0/1), same shape.

    Returns:
        ``{"intercept": {"coef": float, "se": float}, "reward": {...}, "transition": {...},
        "interaction": {...}, "n": int}`` where ``n`` is the number of regressed trials.

    Raises:
        ValueError: On invalid inputs (see ``stay_probabilities``), or with a message starting
            "logistic regression failed:" when the maximum-likelihood fit does not exist
            (a class of previous trial is unobserved or is followed only by stays or only
            by switches) or statsmodels cannot fit it. No regularised fallback is used.
    """
    stay, prev_rewarded, prev_common = _transitions(actions, common, rewarded)
    _check_identifiable(_stay_counts(stay, prev_rewarded, prev_common))
    reward = np.where(prev_rewarded, 1.0, -1.0)
    transition = np.where(prev_common, 1.0, -1.0)
    exog = np.column_stack([np.ones_like(reward), reward, transition, reward * transition])
    params, bse = _fit_logit(stay.astype(float), exog)
    result: dict[str, Any] = {
        name: {"coef": float(coef), "se": float(se)}
        for name, coef, se in zip(REGRESSORS, params, bse, strict=True)
    }
    result["n"] = int(stay.size)
    return result


def model_based_indices(stay: dict[str, dict[str, Any]]) -> dict[str, float]:
    """Differences in stay probability that are positive for a model-based learner.

    Args:
        stay: A result of ``stay_probabilities``.

    Returns:
        ``{"rewarded_common_minus_rare": p(rc) - p(rr),
        "unrewarded_rare_minus_common": p(ur) - p(uc)}`` (NaN if a class is empty).
    """
    p = {name: float(stay[name]["p_stay"]) for name in CLASSES}
    return {
        "rewarded_common_minus_rare": p["rewarded_common"] - p["rewarded_rare"],
        "unrewarded_rare_minus_common": p["unrewarded_rare"] - p["unrewarded_common"],
    }


def _json_safe(value: Any) -> Any:
    """Recursively replace non-finite floats (not valid JSON) with None."""
    if isinstance(value, dict):
        return {key: _json_safe(item) for key, item in value.items()}
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def summarize(
    actions: npt.ArrayLike,
    common: npt.ArrayLike,
    rewarded: npt.ArrayLike,
    rewards_per_trial: npt.ArrayLike | None = None,
) -> dict[str, Any]:
    """All two-step statistics in one JSON-serialisable dict.

    Args:
        actions: First-stage actions in {0, 1}, shape [episodes, trials] with trials >= 2.
        common: Whether each trial's transition was common (bool or 0/1), same shape.
        rewarded: Whether each trial was rewarded (bool or 0/1), same shape.
        rewards_per_trial: Optional reward actually received on each trial, same shape; its
            mean is reported as ``reward_per_trial``. Defaults to ``rewarded``.

    Returns:
        A dict with keys ``stay_probabilities``, ``model_based_indices``, ``regression``
        (``{"error": message}`` if the regression is not identifiable), ``reward_per_trial``,
        ``episodes`` and ``trials_per_episode``. NaN values (empty classes) become None so
        that the dict is strict JSON.

    Raises:
        ValueError: On invalid inputs (see ``stay_probabilities``), or if
            ``rewards_per_trial`` does not have the shape of ``actions``.
    """
    stay = stay_probabilities(actions, common, rewarded)
    shape = np.shape(actions)
    rewards = np.asarray(rewarded if rewards_per_trial is None else rewards_per_trial, float)
    if rewards.shape != shape:
        raise ValueError(
            f"rewards_per_trial has shape {rewards.shape} but actions has shape {shape}"
        )
    try:
        regression: dict[str, Any] = logistic_regression(actions, common, rewarded)
    except ValueError as exc:
        regression = {"error": str(exc)}
    return _json_safe(
        {
            "stay_probabilities": stay,
            "model_based_indices": model_based_indices(stay),
            "regression": regression,
            "reward_per_trial": float(rewards.mean()),
            "episodes": int(shape[0]),
            "trials_per_episode": int(shape[1]),
        }
    )
