"""Config grids in sweeps (issue 16): parsing, checks before anything starts, folders, and
a real two-point sweep with its grid report."""

import json
from pathlib import Path

import pytest
from cli_runner import run_module
from test_sweep import TINY_CONFIG

from configs.two_step import get_config
from harlow.sweep_grid import GridPoint, grid_points, parse_grid


def test_a_grid_is_every_combination_of_its_values_each_config_checked():
    points = grid_points(
        get_config(), ["train.learning_rate=1e-3,3e-3", "config.agent.lstm_units=8,16,32"], set()
    )
    assert len(points) == 6
    assert points[0].overrides == (("train.learning_rate", "1e-3"), ("agent.lstm_units", "8"))
    assert points[0].name == "train.learning_rate=1e-3 agent.lstm_units=8"
    assert points[0].args() == ["--config.train.learning_rate=1e-3", "--config.agent.lstm_units=8"]
    folder = points[5].folder(Path("/runs/sweep"))
    assert folder == Path("/runs/sweep/train.learning_rate=3e-3__agent.lstm_units=32")
    assert grid_points(get_config(), [], set()) == [GridPoint()]
    assert GridPoint().folder(Path("/runs/sweep")) == Path("/runs/sweep")


def test_a_value_with_a_slash_stays_inside_the_workdir():
    point = GridPoint((("dataset", "/data/my faces"),))
    assert point.folder(Path("/w")) == Path("/w/dataset=_data_my_faces")


@pytest.mark.parametrize(
    "entries, message",
    [
        (["train.learning_rate"], "--grid='train.learning_rate' must be KEY=V1,V2"),
        (["train.learning_rate=1e-3,"], "must be KEY=V1,V2"),
        (["seed=1,2"], "--grid cannot vary the seed"),
        (["agent.lstm_units=8", "agent.lstm_units=16"], "names agent.lstm_units twice"),
        (["agent.lstm_units=8,8"], "repeats a value"),
        (["agent.lstm_units=8,eight"], "--grid point agent.lstm_units=eight: "),
        (["agent.lstm_units=8,-1"], "--grid point agent.lstm_units=-1: config.agent.lstm_units"),
        (["train.no_such_field=1"], "--grid point train.no_such_field=1: "),
    ],
)
def test_bad_grids_are_refused_naming_the_entry_or_point(entries, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(".", r"\.")):
        grid_points(get_config(), entries, set())


def test_a_grid_cannot_vary_a_key_that_an_override_sets():
    with pytest.raises(ValueError, match="--grid varies train.learning_rate, which --config"):
        grid_points(get_config(), ["train.learning_rate=1e-3,3e-3"], {"train.learning_rate"})
    assert parse_grid([" train.discount = 0.9 , 0.99 "]) == [("train.discount", ["0.9", "0.99"])]


@pytest.mark.slow
def test_a_grid_sweep_trains_and_reports_each_point(tmp_path):
    config = tmp_path / "tiny.py"
    config.write_text(TINY_CONFIG)
    workdir = tmp_path / "sweep"
    args = [
        f"--config={config}",
        "--seeds=1",
        f"--workdir={workdir}",
        "--grid=train.learning_rate=0.01,0.003",
        "--episodes=6",
        "--noprogress",
    ]
    result = run_module("harlow.sweep", *args)
    assert result.returncode == 0, result.stderr
    assert "at 2 grid points" in result.stdout
    assert "train.learning_rate=0.01 seed 0 done" in result.stdout
    grid = json.loads((workdir / "grid.json").read_text())
    assert grid["seeds"] == [0] and len(grid["points"]) == 2
    for point, rate in zip(grid["points"], (0.01, 0.003), strict=True):
        folder = Path(point["folder"])
        assert folder == workdir / f"train.learning_rate={rate}"
        saved = json.loads((folder / "seed_0" / "config.json").read_text())
        assert saved["train"]["learning_rate"] == rate and saved["seed"] == 0
        assert point["report"] == str(folder / "eval" / "report.json")
        assert json.loads(Path(point["report"]).read_text())["episodes"] == 6
