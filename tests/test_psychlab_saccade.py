"""The trial-level saccade wrapper on the built-in simulator, driven by vision only."""

import numpy as np
import pytest

from harlow.datasets import default_dataset_path, load_dataset
from harlow.psychlab.observations import IdsObserver, PatchesObserver, PixelsObserver
from harlow.psychlab.saccade import LEFT, RIGHT, SaccadeWrapper, look_units
from harlow.psychlab.screen_env import DEGREES_PER_LOOK_UNIT
from harlow.psychlab.simulator import BatchedHarlowSimulator


@pytest.fixture(scope="module")
def faces():
    return load_dataset(default_dataset_path())


class GroundTruthSpy:
    """Wraps the simulator and an observer; records the truth behind every observation."""

    def __init__(self, sim, observer):
        self.sim, self.observer = sim, observer
        self.observation_size = observer.observation_size
        self.num_envs, self.width, self.height = sim.num_envs, sim.width, sim.height
        self.info = None
        self.seen = [[] for _ in range(sim.num_envs)]  # (left_id, right_id, correct_side)

    def reset(self):
        frames = self.sim.reset()
        self.info = self.sim._describe()
        return frames

    def step(self, actions):
        frames, rewards, dones, info = self.sim.step(actions)
        self.info = info
        return frames, rewards, dones, info

    def close(self):
        self.sim.close()

    def start_episode(self, env):
        self.observer.start_episode(env)

    def note_choice(self, env, side):
        self.observer.note_choice(env, side)

    def observe(self, env, frame, detection):
        truth = (self.info["left_id"][env], self.info["right_id"][env])
        self.seen[env].append((*truth, int(self.info["correct_side"][env])))
        return self.observer.observe(env, frame, detection)


def _play(faces, spawn_yaw, trials, num_envs=6, seed=0, observer=None):
    sim = BatchedHarlowSimulator(
        num_envs, faces.images, faces.ids("train"), seed=seed, spawn_yaw_range_deg=spawn_yaw
    )
    spy = GroundTruthSpy(sim, observer or IdsObserver(num_envs))
    wrapper = SaccadeWrapper(spy, spy)
    observations = [wrapper.reset()]
    rng = np.random.default_rng(seed)
    steps = []
    for _ in range(trials):
        choices = rng.integers(0, 2, num_envs)
        obs, reward, done, info = wrapper.step(choices)
        observations.append(obs)
        steps.append((choices, reward, done, info))
    return spy, observations, steps


@pytest.mark.parametrize("spawn_yaw", [22.5, 45.0])
def test_every_trial_completes_without_timeout(faces, spawn_yaw):
    _, _, steps = _play(faces, spawn_yaw, trials=12, seed=int(spawn_yaw))
    timeouts = sum(int(info["timeouts"].sum()) for *_, info in steps)
    assert timeouts == 0
    for _, reward, _, info in steps:
        np.testing.assert_array_equal(np.abs(info["choice_reward"]), 5.0)
        np.testing.assert_array_equal(reward, info["choice_reward"] + 1.0)  # +1 fixation


def test_episodes_end_after_six_trials(faces):
    _, _, steps = _play(faces, 22.5, trials=12)
    done_steps = [t for t, (_, _, done, _) in enumerate(steps) if done.all()]
    assert done_steps == [5, 11]
    assert not any(done.any() for t, (_, _, done, _) in enumerate(steps) if t not in done_steps)


def test_choice_outcome_matches_the_rewarded_side(faces):
    spy, _, steps = _play(faces, 22.5, trials=12)
    for env in range(spy.num_envs):
        for t, (choices, _, _, info) in enumerate(steps):
            correct_side = spy.seen[env][t][2]
            assert info["correct"][env] == (choices[env] == correct_side)


def test_per_episode_ids_follow_the_images(faces):
    spy, observations, _ = _play(faces, 22.5, trials=11)
    for env in range(spy.num_envs):
        for episode in range(2):
            truth = spy.seen[env][6 * episode : 6 * episode + 6]
            obs = [o[env] for o in observations[6 * episode : 6 * episode + 6]]
            first_left = truth[0][0]
            for (left_id, right_id, _), vector in zip(truth, obs, strict=True):
                left, right = np.argmax(vector[:2]), np.argmax(vector[2:4])
                assert vector[:4].sum() == 2.0  # both images recognised
                assert left != right
                assert (left == 0) == (left_id == first_left)  # first image seen is id 0
                assert (right == 0) == (right_id == first_left)


def test_patch_and_pixel_observations(faces):
    _, observations, _ = _play(faces, 22.5, trials=1, num_envs=2, observer=PatchesObserver(2, 24))
    assert observations[0].shape == (2, 3 * 24 * 24)
    assert observations[0].min() >= 0.0 and observations[0].max() <= 1.0
    assert observations[0].std() > 0.05
    _, observations, steps = _play(
        faces, 22.5, trials=2, num_envs=2, observer=PixelsObserver(2, 20)
    )
    frame = 20 * 20
    assert observations[0].shape == (2, 2 * frame)
    assert observations[0][:, frame:].max() == 0.0  # no previous choice in a new episode
    choices = steps[0][0]
    for env, side in enumerate(choices):
        shown = observations[0][env, :frame].reshape(20, 20)
        chosen = observations[1][env, frame:].reshape(20, 20)
        kept, blanked = (
            (slice(0, 10), slice(10, 20)) if side == 0 else (slice(10, 20), slice(0, 10))
        )
        np.testing.assert_array_equal(chosen[:, kept], shown[:, kept])
        assert chosen[:, blanked].max() == 0.0
    _, observations, _ = _play(
        faces, 22.5, trials=1, num_envs=2, observer=PixelsObserver(2, 21, show_chosen=False)
    )
    assert observations[0].shape == (2, 21 * 21)
    assert observations[0].std() > 0.05


@pytest.mark.parametrize(("side", "kept"), [(0, slice(0, 4)), (1, slice(4, 8))])
def test_pixels_observer_keeps_the_chosen_half_for_one_episode(side, kept):
    observer = PixelsObserver(1, 8)
    frame = np.full((16, 16, 3), 200, np.uint8)
    observer.observe(0, frame, None)
    observer.note_choice(0, side)
    chosen = observer.observe(0, frame, None)[64:].reshape(8, 8)
    assert chosen[:, kept].min() > 0.7
    assert chosen.sum() == chosen[:, kept].sum()  # the other half is blanked
    observer.start_episode(0)
    assert observer.observe(0, frame, None)[64:].max() == 0.0
    with pytest.raises(ValueError, match="num_envs"):
        PixelsObserver(0, 8)


def test_look_units_and_choice_validation(faces):
    assert look_units(0.0, 42.0) == 0
    assert look_units(42.0, 42.0) == round(45.0 / DEGREES_PER_LOOK_UNIT) == 426
    assert look_units(-1e6, 42.0) == -512
    sim = BatchedHarlowSimulator(2, faces.images, faces.ids("train"))
    wrapper = SaccadeWrapper(sim, IdsObserver(2))
    with pytest.raises(RuntimeError, match="reset"):
        wrapper.step(np.array([LEFT, RIGHT]))
    wrapper.reset()
    with pytest.raises(ValueError, match="choices"):
        wrapper.step(np.array([0, 2]))


def test_trial_info_reports_choice_sides_and_dataset_ids(faces):
    spy, _, steps = _play(faces, 22.5, trials=8)
    for env in range(spy.num_envs):
        for t, (choices, _, _, info) in enumerate(steps):
            left_id, right_id, correct_side = spy.seen[env][t]
            assert info["choice"][env] == choices[env]
            assert info["correct_side"][env] == correct_side
            assert (info["left_id"][env], info["right_id"][env]) == (left_id, right_id)


class EpisodePairOnly:
    """The simulator reporting ids as DeepMind Lab's adapter does: only the episode's pair.

    ``correct_id``/``incorrect_id`` are those of the episode the step played in (on the
    step that ends an episode, the ending one), and per-frame left/right ids are hidden.
    """

    def __init__(self, sim):
        self.sim = sim
        self.num_envs, self.width, self.height = sim.num_envs, sim.width, sim.height

    def reset(self):
        return self.sim.reset()

    def step(self, actions):
        pair = (self.sim._correct_id.copy(), self.sim._incorrect_id.copy())
        frames, rewards, dones, info = self.sim.step(actions)
        info = {k: v for k, v in info.items() if k not in ("left_id", "right_id")}
        info["correct_id"], info["incorrect_id"] = pair
        return frames, rewards, dones, info

    def close(self):
        self.sim.close()


def test_sides_of_an_episode_pair_are_filled_in_from_the_choice_reward(faces):
    """Where the backend reports only the episode's pair, the ids per side come out the
    same as the simulator's per-frame ids (same seed, same choices)."""
    _, _, reference = _play(faces, 22.5, trials=14)
    sim = BatchedHarlowSimulator(
        6, faces.images, faces.ids("train"), seed=0, spawn_yaw_range_deg=22.5
    )
    wrapper = SaccadeWrapper(EpisodePairOnly(sim), IdsObserver(6))
    wrapper.reset()
    for choices, _, done, expected in reference:
        _, _, done_here, info = wrapper.step(choices)
        np.testing.assert_array_equal(done_here, done)
        np.testing.assert_array_equal(info["left_id"], expected["left_id"])
        np.testing.assert_array_equal(info["right_id"], expected["right_id"])
    assert (info["left_id"] > 0).all()


@pytest.mark.parametrize("make_observer", [IdsObserver, lambda n: PatchesObserver(n, 12)])
def test_observation_shows_the_previously_chosen_image(faces, make_observer):
    num_envs = 3
    observer = make_observer(num_envs)
    _, observations, steps = _play(faces, 22.5, trials=7, num_envs=num_envs, observer=observer)
    part = observer.observation_size // 3
    for t, obs in enumerate(observations[:7]):
        for env in range(num_envs):
            chosen = obs[env, 2 * part :]
            if t % 6 == 0:  # an episode's first trial: nothing chosen yet
                np.testing.assert_array_equal(chosen, 0.0)
                continue
            side = steps[t - 1][0][env]
            previous = observations[t - 1][env]
            np.testing.assert_array_equal(chosen, previous[side * part : (side + 1) * part])


def test_observation_without_the_chosen_image(faces):
    observer = IdsObserver(2, show_chosen=False)
    _, observations, _ = _play(faces, 22.5, trials=2, num_envs=2, observer=observer)
    assert observer.observation_size == 4
    assert observations[-1].shape == (2, 4)


class LateStarts:
    """The simulator, with some environments blind for their first frames of every episode.

    While blind, an environment shows a black frame and ignores the look action, so its
    first trial takes more frames than the others' (as spawn angles do on DeepMind Lab).
    """

    def __init__(self, sim, blind_frames):
        self.sim, self.blind_frames = sim, np.asarray(blind_frames)
        self.num_envs, self.width, self.height = sim.num_envs, sim.width, sim.height
        self._blind = self.blind_frames.copy()

    def reset(self):
        self._blind = self.blind_frames.copy()
        return self._hide(self.sim.reset())

    def step(self, actions):
        actions = np.where((self._blind > 0)[:, None], 0, actions)
        self._blind -= 1
        frames, rewards, dones, info = self.sim.step(actions)
        self._blind[dones] = self.blind_frames[dones]
        return self._hide(frames), rewards, dones, info

    def _hide(self, frames):
        frames = frames.copy()
        frames[self._blind > 0] = 0
        return frames

    def close(self):
        self.sim.close()


def test_rewards_stay_with_their_trial_when_environments_fall_out_of_step(faces):
    """Each trial reads +1 (fixation) +-5 (choice) in every environment, whatever the
    frame counts of the others: a fixation reward that arrives while an environment
    waits for the slower ones belongs to its next trial, not the one just played."""
    num_envs = 4
    sim = BatchedHarlowSimulator(num_envs, faces.images, faces.ids("train"), seed=3)
    wrapper = SaccadeWrapper(LateStarts(sim, [0, 0, 3, 6]), IdsObserver(num_envs))
    wrapper.reset()
    rng = np.random.default_rng(0)
    frames_per_trial = []
    for _ in range(14):
        _, reward, _, info = wrapper.step(rng.integers(0, 2, num_envs))
        np.testing.assert_array_equal(reward, info["choice_reward"] + 1.0)
        frames_per_trial.append(info["frames"])
    assert len(set(frames_per_trial[5].tolist())) > 1  # the episodes' ends took unequal frames
