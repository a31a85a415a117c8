"""ChosenHalfMemory: the onset view, the side read from the yaw, and the level's one-frame lag."""

from __future__ import annotations

import numpy as np
import pytest

from harlow.psychlab.chosen_half import ChosenHalfMemory

SIZE = 4


def _onset_views(count: int) -> np.ndarray:
    return np.arange(1, count * SIZE * SIZE + 1, dtype=np.float32).reshape(count, -1)


def _play(
    memory: ChosenHalfMemory,
    yaws: list[int],
    fixation_frame: int,
    choice_frame: int,
    rewarded: bool = True,
):
    """Plays one environment's frames with ``yaws``; the fixation reward and the trial's end
    (a choice ``rewarded`` or not) come on the given frames."""
    one = np.ones(1, bool)
    for frame, yaw in enumerate(yaws):
        memory.start_frame(np.array([yaw]))
        if frame == fixation_frame:
            memory.note_onsets(one, _onset_views(1))
        if frame == choice_frame:
            memory.note_choices(one, np.array([rewarded]))


def _kept_side(view: np.ndarray) -> int:
    halves = view.reshape(SIZE, SIZE)
    left, right = halves[:, : SIZE // 2].any(), halves[:, SIZE // 2 :].any()
    assert left != right
    return 0 if left else 1


@pytest.mark.parametrize("yaw, side", [(-160, 0), (160, 1)])
def test_the_half_kept_is_the_one_the_gaze_turned_to(yaw, side):
    memory = ChosenHalfMemory(1, SIZE, 1)
    # Hold the cross (frames 0-4), the images show in frame 5 and the reward comes with
    # frame 6; the gaze turns in frame 7, holds, and the trial ends with frame 12.
    _play(memory, [0] * 7 + [yaw] + [0] * 5, fixation_frame=6, choice_frame=12)
    assert _kept_side(memory.views[0]) == side
    expected = _onset_views(1).reshape(SIZE, SIZE)
    kept = slice(0, SIZE // 2) if side == 0 else slice(SIZE // 2, SIZE)
    np.testing.assert_array_equal(memory.views[0].reshape(SIZE, SIZE)[:, kept], expected[:, kept])


def test_a_turn_in_the_images_first_frame_counts_towards_the_side():
    # The agent turned left in the images' first frame, before their reward came.
    memory = ChosenHalfMemory(1, SIZE, 1)
    _play(memory, [0] * 5 + [-160] + [0] * 6, fixation_frame=6, choice_frame=11)
    assert _kept_side(memory.views[0]) == 0


def test_a_turn_in_the_frame_that_ends_the_trial_does_not_count():
    # The hold on the left image ended the trial; the gaze left it in that last frame.
    memory = ChosenHalfMemory(1, SIZE, 1)
    _play(memory, [0] * 7 + [-160] + [0] * 4 + [320], fixation_frame=6, choice_frame=12)
    assert _kept_side(memory.views[0]) == 0


@pytest.mark.parametrize("rewarded, side", [(True, 0), (False, 1)])
def test_the_rewarded_view_keeps_the_rewarded_images_half(rewarded, side):
    # The gaze chose the left image: rewarded, its half; punished, the other (rewarded) one.
    memory = ChosenHalfMemory(1, SIZE, 1, keep="rewarded")
    _play(memory, [0] * 7 + [-160] + [0] * 5, 6, 12, rewarded=rewarded)
    assert _kept_side(memory.views[0]) == side
    chosen = ChosenHalfMemory(1, SIZE, 1)
    _play(chosen, [0] * 7 + [-160] + [0] * 5, 6, 12, rewarded=rewarded)
    assert _kept_side(chosen.views[0]) == 0  # the chosen view ignores the outcome


def test_the_rewarded_view_needs_the_outcomes_and_a_known_half():
    memory = ChosenHalfMemory(1, SIZE, 1, keep="rewarded")
    with pytest.raises(ValueError, match="needs the choices' outcomes"):
        memory.note_choices(np.ones(1, bool))
    with pytest.raises(ValueError, match=r"keep must be one of \('chosen', 'rewarded'\)"):
        ChosenHalfMemory(1, SIZE, 1, keep="left")


def test_forget_clears_only_the_environments_named():
    memory = ChosenHalfMemory(2, SIZE, 1)
    both = np.ones(2, bool)
    for frame in range(10):
        memory.start_frame(np.array([0, 0]) if frame != 7 else np.array([-160, 160]))
        if frame == 6:
            memory.note_onsets(both, _onset_views(2))
        if frame == 9:
            memory.note_choices(both)
    assert [_kept_side(view) for view in memory.views] == [0, 1]
    memory.forget(np.array([True, False]))
    assert not memory.views[0].any() and memory.views[1].any()
