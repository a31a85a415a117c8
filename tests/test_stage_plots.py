"""The learning-set stages (as many as asked for, or a reason) and what the figures' titles say."""

from __future__ import annotations

import dataclasses

import matplotlib.pyplot as plt
import numpy as np
import pytest

from configs.harlow import get_config as harlow_config
from harlow import evaluation
from harlow.checkpointing import CheckpointSnapshot
from harlow.harlow_task import plots
from harlow.task import StageReport
from harlow.tasks import get_task
from harlow.two_step import plots as two_step_plots

SETTINGS = {
    "dataset": "/somewhere/datasets/faces",
    "split": "heldout",
    "backend": "simulator",
    "observation": "patches",
}


def _entries(accuracy: list[float]) -> list[dict]:
    return [
        {"trial": t + 1, "accuracy": a, "ci_low": a - 0.05, "ci_high": a, "n": 100}
        for t, a in enumerate(accuracy)
    ]


def _summary(level: float = 0.9, **changes) -> dict:
    accuracy = [0.5] + [level] * 5
    summary = SETTINGS | {
        "episodes": 100,
        "accuracy_by_trial": _entries(accuracy),
        "trials_2_to_6": {"accuracy": level},
    }
    return summary | changes


@pytest.fixture
def figures(monkeypatch) -> list[plt.Figure]:
    """The figures the plot functions draw (still open), instead of PNG files."""
    drawn = []
    monkeypatch.setattr(plots, "save_figure", lambda figure, path: drawn.append(figure))
    yield drawn
    for figure in drawn:
        plt.close(figure)


def _title(figure: plt.Figure) -> str:
    return figure.axes[0].get_title()


def _legend(figure: plt.Figure) -> list[str]:
    return [text.get_text() for text in figure.axes[0].get_legend().get_texts()]


def _checkpoints(monkeypatch, steps: list[int]) -> dict[str, int]:
    by_path = {f"ckpt-{i}": s for i, s in enumerate(steps, start=1)}
    monkeypatch.setattr(evaluation, "all_checkpoints", lambda workdir: list(by_path))
    monkeypatch.setattr(evaluation, "checkpoint_env_steps", by_path.__getitem__)
    return by_path


@pytest.mark.parametrize("count", range(2, 41))
def test_as_many_distinct_stages_as_asked_for_when_the_run_has_them(monkeypatch, count):
    # One checkpoint every 1,000 steps (saved every N seconds at a steady rate), and the
    # final one just after the last: before, several geometric targets fell on one
    # checkpoint and were drawn once (5 curves of 6 for 7 to 10 checkpoints).
    steps = [1_000 * i for i in range(1, count)] + [1_000 * (count - 1) + 48]
    by_path = _checkpoints(monkeypatch, steps)
    picked = evaluation.stage_checkpoints("run", 6)
    assert len(picked) == min(count, 6) == len(set(picked))
    assert picked[0] == "ckpt-1" and picked[-1] == f"ckpt-{count}"
    assert [by_path[p] for p in picked] == sorted(by_path[p] for p in picked)


def test_stages_stay_geometric_and_dense_early(monkeypatch):
    by_path = _checkpoints(monkeypatch, [3_000 * i for i in range(1, 101)])
    steps = [by_path[p] for p in evaluation.stage_checkpoints("run", 6)]
    ratios = np.diff(np.log(steps))
    assert steps[0] == 3_000 and steps[-1] == 300_000
    assert ratios.max() / ratios.min() < 1.7  # about equal ratios: geometric spacing
    assert steps[1] == 9_000  # early training is sampled densely


def _stage_task(monkeypatch, plotted: list):
    """The Harlow task with stage summaries made up, no agent, and checkpoints in memory."""

    def summarize(agent, config, episodes, seed, greedy):
        return _summary(0.5 + 0.01 * len(plotted), episodes=episodes)

    def plot(stages, path, note):
        plotted.append((stages, note))
        get_task("harlow").stages.plot(stages, path, note)

    task = dataclasses.replace(get_task("harlow"), stages=StageReport(summarize, plot))
    monkeypatch.setattr(evaluation, "get_task", lambda name: task)
    monkeypatch.setattr(evaluation, "build_agent", lambda config: None)
    monkeypatch.setattr(evaluation, "restore_agent", lambda agent, snapshot: None)
    monkeypatch.setattr(
        evaluation,
        "read_checkpoint",
        lambda path: CheckpointSnapshot(path, {}, evaluation.checkpoint_env_steps(path)),
    )


def test_six_stages_are_drawn_with_their_trials_and_episodes(
    tmp_path, monkeypatch, figures, capsys
):
    _checkpoints(monkeypatch, [6_000 * i for i in range(1, 9)])  # 8: old code drew 5
    plotted = []
    _stage_task(monkeypatch, plotted)
    config = harlow_config()
    config.eval.stage_episodes = 40
    stages = evaluation.evaluate_stages(config, tmp_path, 0, False, tmp_path)
    assert len(stages) == 6 and plotted[0][1] is None
    assert capsys.readouterr().err == ""
    [figure] = figures
    labels = _legend(figure)
    assert labels[:6] == [f"{s['env_steps']:,} trials trained (n = 40 episodes)" for s in stages]
    assert labels[0] == "6,000 trials trained (n = 40 episodes)"
    title = _title(figure)
    assert "6 checkpoints" in title and "stages:" not in title
    for words in ("faces dataset", "heldout split", "simulator backend", "patches observation"):
        assert words in title


def test_fewer_checkpoints_than_stages_are_explained_in_the_figure_and_the_output(
    tmp_path, monkeypatch, figures, capsys
):
    _checkpoints(monkeypatch, [6_000 * i for i in range(1, 5)])
    _stage_task(monkeypatch, [])
    config = harlow_config()
    stages = evaluation.evaluate_stages(config, tmp_path, 0, False, tmp_path)
    assert len(stages) == 4
    note = "4 of 6 stages: the run has only 4 readable checkpoints"
    assert note in " ".join(_title(figures[0]).split("\n"))
    assert len(_legend(figures[0])) == 4 + 1  # and chance
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith(f"warning: learning-set stages (config.eval.stages = 6): {note}")
    assert "config.train.checkpoint_every_seconds = 10.0 s" in line
    assert "config.train.keep_checkpoints = 100" in line


def test_a_stage_that_cannot_be_read_is_noted_in_the_figure(tmp_path, monkeypatch, figures):
    _checkpoints(monkeypatch, [6_000 * i for i in range(1, 9)])
    _stage_task(monkeypatch, [])
    read = evaluation.read_checkpoint

    def read_or_fail(path):
        if path == "ckpt-2":
            raise evaluation.UnreadableCheckpointError(path, "its files are gone")
        return read(path)

    monkeypatch.setattr(evaluation, "read_checkpoint", read_or_fail)
    warnings = []
    stages = evaluation.evaluate_stages(
        harlow_config(), tmp_path, 0, False, tmp_path, warnings.append
    )
    assert len(stages) == 5 and len(warnings) == 1 and "skipped" in warnings[0]
    assert "5 of 6 stages: 1 could not be read" in " ".join(_title(figures[0]).split("\n"))


def test_accuracy_and_seed_figures_name_dataset_split_backend_and_observation(figures):
    plots.plot_accuracy_by_trial(_summary(), "unused.png", "Harlow, heldout images, 100 episodes")
    plots.plot_seeds([_summary(), _summary(backend="dmlab")], ["seed 0", "seed 1"], "unused.png")
    single, seeds = (" ".join(_title(f).split("\n")) for f in figures)
    assert single.startswith("Harlow, heldout images, 100 episodes")
    assert "faces dataset, heldout split, simulator backend, patches observation" in single
    assert "simulator/dmlab backend" in seeds  # seeds that differ show each value
    plots.plot_accuracy_by_trial(_summary(), "unused.png", "t", settings={"split": "train"})
    assert "train split" in _title(figures[-1]) and "? dataset" in _title(figures[-1])


def test_two_step_figures_give_the_task_settings(tmp_path):
    stay = {
        name: {"p_stay": 0.7, "n": 10}
        for name in ("rewarded_common", "rewarded_rare", "unrewarded_common", "unrewarded_rare")
    }
    settings = {
        "common_prob": 0.8,
        "reward_prob_good": 0.9,
        "reward_prob_bad": 0.1,
        "switch_prob": 0.025,
        "trials_per_episode": 100,
    }
    parts = two_step_plots.settings_parts(settings)
    assert parts == [
        "common transition 0.8",
        "reward 0.9/0.1",
        "switch 0.025",
        "trials per episode 100",
    ]
    seeds = two_step_plots.settings_parts([settings, settings | {"switch_prob": 0.05}])
    assert "switch 0.025 | 0.05" in seeds
    figure = two_step_plots._stay_figure([stay, stay], "Two-step", settings)
    title = " ".join(figure.axes[0].get_title().split("\n"))
    plt.close(figure)
    assert title.startswith("Two-step (2 seeds)")
    assert "common transition 0.8, reward 0.9/0.1" in title and "trials per episode 100" in title
    two_step_plots.plot_stay_probabilities([stay], tmp_path / "stay.png", settings=settings)
    assert (tmp_path / "stay.png").stat().st_size > 0
