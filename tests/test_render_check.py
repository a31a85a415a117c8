"""The simulator's frames against DeepMind Lab's recorded ones, at the same views."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from harlow.psychlab import render_check
from harlow.psychlab.protocol import SCREEN_BLANK, SCREEN_FIXATION, SCREEN_IMAGES

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "dmlab_harlow"


def test_the_simulator_room_is_within_the_measured_distance_of_the_engine():
    """Measured on harlow_84.npz: 26.4 grey levels on average (36.3 before the room's grey
    levels were fitted to the engine's), 19.1 over the centre half."""
    if not FIXTURES.is_dir():
        pytest.skip(f"fixtures not found at {FIXTURES} (CI clones shared/ beside the repo)")
    difference = render_check.render_difference(
        FIXTURES / "harlow_84.npz", FIXTURES / "dataset", count=200
    )
    assert difference.frames == 200
    assert difference.whole < 28.0, difference
    assert difference.centre < 21.0, difference


def _recording(**overrides: np.ndarray) -> dict[str, np.ndarray]:
    n = 8
    recording = {
        "step": np.array([5, 30, 40, 50, 60, 70, 80, 90]),
        "minimal_ui": np.array([True, True, False, True, True, True, True, True]),
        "state": np.array([SCREEN_FIXATION] * 3 + [SCREEN_IMAGES] * 3 + [SCREEN_BLANK] * 2),
        "left_id": np.array([-1, -1, -1, 3, 0, 3, -1, -1]),
        "right_id": np.array([-1, -1, -1, 4, 4, 4, -1, -1]),
        "frames": np.zeros((n, 32, 32, 3), np.uint8),
    }
    recording.update(overrides)
    return recording


def test_frames_at_rest_skip_the_spawn_ring_the_hud_blank_screens_and_unknown_images():
    indices = render_check.frames_at_rest(_recording(), count=10)
    np.testing.assert_array_equal(indices, [1, 3, 5])
    assert len(render_check.frames_at_rest(_recording(), count=2)) == 2


def test_command_line_errors_name_the_file(tmp_path, capsys):
    missing = tmp_path / "nothing.npz"
    assert render_check.main([f"--recording={missing}"]) == 1
    assert f"cannot read recording {missing}" in capsys.readouterr().err
    partial = tmp_path / "partial.npz"
    np.savez(partial, frames=np.zeros((1, 32, 32, 3), np.uint8))
    assert render_check.main([f"--recording={partial}"]) == 1
    assert f"recording {partial} lacks rot, step" in capsys.readouterr().err
    no_rest = tmp_path / "no_rest.npz"
    recording = _recording(step=np.zeros(8, int))
    np.savez(no_rest, rot=np.zeros((8, 3), np.float32), **recording)
    assert render_check.main([f"--recording={no_rest}"]) == 1
    assert "has no frame at rest" in capsys.readouterr().err
