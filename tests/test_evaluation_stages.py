"""Which checkpoints make the learning-stage plot."""

import pytest

from harlow import evaluation


@pytest.fixture
def checkpoints(monkeypatch):
    steps = {f"ckpt-{i}": 3_000 * i for i in range(1, 41)}  # one every 3,000 steps
    monkeypatch.setattr(evaluation, "all_checkpoints", lambda workdir: list(steps))
    monkeypatch.setattr(evaluation, "checkpoint_env_steps", steps.__getitem__)
    return steps


def test_stages_are_spaced_geometrically_from_first_to_last(checkpoints):
    picked = evaluation.stage_checkpoints("run", 5)
    assert picked[0] == "ckpt-1" and picked[-1] == "ckpt-40"
    steps = [checkpoints[c] for c in picked]
    assert steps == sorted(steps) and len(picked) == 5
    ratios = [b / a for a, b in zip(steps, steps[1:], strict=False)]
    assert max(ratios) / min(ratios) < 1.6  # about equal ratios: geometric spacing
    assert picked[1] in ("ckpt-2", "ckpt-3")  # early training is sampled densely


def test_few_checkpoints_are_all_used(checkpoints, monkeypatch):
    monkeypatch.setattr(evaluation, "all_checkpoints", lambda workdir: ["ckpt-1", "ckpt-2"])
    assert evaluation.stage_checkpoints("run", 6) == ["ckpt-1", "ckpt-2"]
