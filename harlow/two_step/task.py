"""The two-step task's slots (``harlow.task.Task``): its config, environments, observations,
evaluation and reports."""

from __future__ import annotations

import ml_collections

from harlow.config.checks import at_least, probability
from harlow.observation_spec import ObservationSpec
from harlow.task import Lazy, Task
from harlow.two_step.env import NUM_ACTIONS, OBSERVATION_SPEC, BatchedTwoStep, TwoStepParams

_EVALUATION = "harlow.two_step.evaluation"

CHECKS = (
    probability("env.common_prob"),
    probability("env.reward_prob_good"),
    probability("env.reward_prob_bad"),
    probability("env.switch_prob"),
    at_least("env.trials_per_episode", 2),
)


def make_env(config: ml_collections.ConfigDict, num_envs: int, seed: int) -> BatchedTwoStep:
    """The batched two-step environment described by ``config.env``."""
    params = TwoStepParams(
        common_prob=config.env.common_prob,
        reward_prob_good=config.env.reward_prob_good,
        reward_prob_bad=config.env.reward_prob_bad,
        switch_prob=config.env.switch_prob,
        trials_per_episode=config.env.trials_per_episode,
    )
    return BatchedTwoStep(num_envs, params, seed)


def observation_spec(config: ml_collections.ConfigDict) -> ObservationSpec:
    """The one-hot state (S1, S2, S3), whatever the config."""
    return OBSERVATION_SPEC


def evaluation_name(config: ml_collections.ConfigDict) -> str:
    """``""``: a two-step evaluation has nothing to tell apart, its reports go to
    ``<workdir>/eval``."""
    return ""


def eval_scalars(summary: dict) -> dict[str, float]:
    """The stay probability of each class (of those with trials)."""
    return {
        f"p_stay/{name}": entry["p_stay"]
        for name, entry in summary["stay_probabilities"].items()
        if entry["p_stay"] is not None
    }


TASK = Task(
    name="two_step",
    checks=CHECKS,
    optional_checks=(),
    combination_checks=(),
    make_env=make_env,
    num_actions=NUM_ACTIONS,
    steps_per_trial=2,
    observation_spec=observation_spec,
    model_fields=(),  # the observation is three states whatever the config
    input_meaning_fields=(),
    resumable_fields=(),
    evaluation_name=evaluation_name,
    evaluate=Lazy(_EVALUATION, "evaluate"),
    eval_scalars=eval_scalars,
    format_summary=Lazy(_EVALUATION, "format_summary"),
    plot_seeds=Lazy(_EVALUATION, "plot_seeds"),
    aggregate_seeds=Lazy(_EVALUATION, "aggregate_seeds"),
    format_aggregate=Lazy(_EVALUATION, "format_aggregate"),
)
