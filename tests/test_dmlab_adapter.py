"""The DeepMind Lab adapter against the fake deepmind_lab module (tests/fake_deepmind_lab)."""

from __future__ import annotations

import gc
import os
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from harlow.psychlab import dmlab
from harlow.psychlab.dmlab import (
    LEVEL_SCRIPT,
    DmlabHarlowEnv,
    DmlabUnavailableError,
    HarlowLab,
    HarlowLevelSettings,
    harlow_lab_config,
    remove_stale_temporary_folders,
)
from harlow.psychlab.dmlab_workers import DmlabWorkerError, WorkerPool
from harlow.psychlab.observations import IdsObserver
from harlow.psychlab.protocol import FIXATION_SIZE, TARGET_SIZE, ProtocolConfig
from harlow.psychlab.saccade import SaccadeWrapper
from harlow.psychlab.simulator import BatchedHarlowSimulator

LOOK_TO_IMAGE = 163  # look units from the screen centre to an image centre (0.25 screen)
SHORT_EPISODE = HarlowLevelSettings(ProtocolConfig(trials_per_episode=2))


@pytest.fixture
def fake_lab(fake_deepmind_lab, monkeypatch, tmp_path):
    """The fake deepmind_lab module; the adapter's temporary folders go under tmp_path.

    The test process stands for one without TensorFlow (where Labs may run in
    process), whatever other tests imported: the fake does not crash next to it.
    """
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr(dmlab, "tensorflow_loaded", lambda: False)
    return fake_deepmind_lab


def _images(count: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 160, size=(count, 256, 256, 3), dtype=np.uint8)
    images[..., 0] = 0  # no red: the scripted player looks for the red cross
    return images


def _env(num_envs: int = 2, count: int = 5, **kwargs) -> DmlabHarlowEnv:
    return DmlabHarlowEnv(num_envs, _images(count), [f"img{i}" for i in range(count)], **kwargs)


def _look_at_cross(fake, frames: np.ndarray) -> np.ndarray:
    """Actions that centre the view on each frame's red cross (zero where none is seen)."""
    actions = np.zeros((len(frames), 7), dtype=np.int64)
    units = fake.look_units_per_pixel(frames.shape[2])
    for index, frame in enumerate(frames):
        red = (frame[..., 0] > 200) & (frame[..., 1] < 60) & (frame[..., 2] < 60)
        rows, cols = np.nonzero(red)
        if len(cols):
            actions[index, 0] = round((cols.mean() + 0.5 - frame.shape[1] / 2) * units)
            actions[index, 1] = round((rows.mean() + 0.5 - frame.shape[0] / 2) * units)
    return actions


def _play_trial(fake, env: DmlabHarlowEnv, frames: np.ndarray, looks: np.ndarray) -> list[tuple]:
    """Fixates the cross, then looks ``looks[i]`` units sideways until the choice is made."""
    zeros = np.zeros((env.num_envs, 7), dtype=np.int64)
    saccade = zeros.copy()
    saccade[:, 0] = looks
    plan = [_look_at_cross(fake, frames)] + [zeros] * 4 + [saccade] + [zeros] * 4 + [-saccade]
    outputs = []
    for actions in plan:
        frames, rewards, dones, info = env.step(actions)
        outputs.append((frames, rewards, dones, info))
    outputs += [env.step(zeros) for _ in range(5)]  # the inter-trial interval
    return outputs


def test_missing_module_gives_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "deepmind_lab", None)  # makes the import fail
    with pytest.raises(DmlabUnavailableError, match="bazel build") as error:
        _env()
    assert "--config.env.backend=simulator" in str(error.value)
    assert "[dmenv_module]" in str(error.value)  # the wheel needs dm-env


def test_missing_dependency_of_deepmind_lab_is_named(monkeypatch, tmp_path):
    package = tmp_path / "site" / "deepmind_lab"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("import dm_env\n")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    monkeypatch.delitem(sys.modules, "deepmind_lab", raising=False)
    monkeypatch.setitem(sys.modules, "dm_env", None)  # not installed
    with pytest.raises(DmlabUnavailableError, match="installed but cannot import 'dm_env'") as e:
        dmlab.import_deepmind_lab()
    assert "pip install dm-env" in str(e.value) and "bazel build" not in str(e.value)
    sys.modules.pop("deepmind_lab", None)


def test_labs_run_in_a_worker_where_tensorflow_is_loaded(fake_lab, monkeypatch, tmp_path):
    """DeepMind Lab's renderer crashes next to TensorFlow: no Lab in such a process."""
    monkeypatch.setattr(dmlab, "tensorflow_loaded", lambda: True)
    env = _env(2, num_workers=0)
    try:
        assert isinstance(env._labs(), WorkerPool) and env._labs().num_workers == 1
        assert fake_lab.INSTANCES == []  # none in this process
        assert env.reset().shape == (2, 84, 84, 3)
    finally:
        env.close()
    spec = dmlab.LabSpec({}, "software", np.random.SeedSequence(0), tmp_path / "lab", 1)
    with pytest.raises(RuntimeError, match="crashes in a process that has imported TensorFlow"):
        HarlowLab(spec)


def test_worker_processes_never_import_tensorflow(fake_lab, monkeypatch, tmp_path):
    import tensorflow  # noqa: F401 - the parent has it, as harlow.train does

    log_dir = tmp_path / "labs"
    log_dir.mkdir()
    monkeypatch.setenv("FAKE_DMLAB_LOG_DIR", str(log_dir))
    monkeypatch.setenv("FAKE_DMLAB_CRASH_NEXT_TO_TENSORFLOW", "1")
    env = _env(3, num_workers=2)
    try:
        env.reset()
        records = sorted(path.read_text() for path in log_dir.iterdir())
    finally:
        env.close()
    assert len(records) == 3 and all("tensorflow=False" in r for r in records)
    assert f"pid={os.getpid()} " not in "".join(records)


def test_folders_of_killed_processes_are_removed(fake_lab, tmp_path):
    dead = tmp_path / "harlow_dmlab_999999999_abc"  # no such process
    (dead / "dataset_train").mkdir(parents=True)
    alive = tmp_path / f"harlow_dmlab_{os.getppid()}_abc"
    alive.mkdir()
    unrelated = tmp_path / "harlow_dmlab_notapid"
    unrelated.mkdir()
    assert remove_stale_temporary_folders() == [dead]
    assert alive.is_dir() and unrelated.is_dir() and not dead.exists()
    dead.mkdir()
    env = _env(1)  # every adapter sweeps on start
    env.close()
    assert not dead.exists()


def test_each_trial_reads_fixation_plus_choice_reward(fake_lab):
    """Under the saccade wrapper every trial's reward is +1 +-5, the last one included
    (the fake pays the fixation +1 on the frame the images appear, the real level one
    frame later: both belong to the trial those images start)."""
    num_envs = 3
    ids = list(range(1, 6))
    wrapper = SaccadeWrapper(
        DmlabHarlowEnv(num_envs, _images(5), ids, seed=2), IdsObserver(num_envs)
    )
    try:
        wrapper.reset()
        rng = np.random.default_rng(0)
        for _ in range(7):
            _, reward, _, info = wrapper.step(rng.integers(0, 2, num_envs))
            np.testing.assert_array_equal(reward, info["choice_reward"] + 1.0)
    finally:
        wrapper.close()


def test_lab_gets_level_script_and_config_strings(fake_lab):
    level = HarlowLevelSettings(ProtocolConfig(fps=30))
    env = _env(2, count=5, width=96, height=72, minimal_ui=True, level=level)
    try:
        assert len(fake_lab.INSTANCES) == 2
        lab = fake_lab.INSTANCES[0]
        assert lab.level == str(LEVEL_SCRIPT) and os.path.isabs(lab.level)
        assert lab.level.endswith(".lua") and LEVEL_SCRIPT.is_file()
        assert all(isinstance(v, str) for v in lab.config.values())
        expected = {"width": "96", "height": "72", "fps": "30", "minimalUI": "true"}
        assert {k: lab.config[k] for k in expected} == expected
        assert lab.config["trainBatch"] == "5" and lab.config["testBatch"] == "0"
        assert lab.config["trialsPerEpisodeCap"] == "6"
        assert lab.config["episodeLengthSeconds"] == "300.0"
        assert Path(lab.config["datasetPath"]) == env.dataset_dir
    finally:
        env.close()


def test_dataset_folders_hold_exactly_their_split(fake_lab):
    train_images, heldout_images = _images(5, seed=1), _images(3, seed=2)
    train = DmlabHarlowEnv(1, train_images, list(range(5)), split="train")
    heldout = DmlabHarlowEnv(1, heldout_images, [10, 11, 12], split="heldout")
    try:
        assert train.dataset_dir != heldout.dataset_dir
        for env, images in ((train, train_images), (heldout, heldout_images)):
            names = sorted(os.listdir(env.dataset_dir))
            assert names == [f"{n:04d}.png" for n in range(1, len(images) + 1)]
            for name, image in zip(names, images, strict=True):
                with Image.open(env.dataset_dir / name) as png:
                    assert png.mode == "RGB" and png.size == (256, 256)
                    np.testing.assert_array_equal(np.asarray(png), image)
        assert fake_lab.INSTANCES[1].config["trainBatch"] == "3"
    finally:
        train.close()
        heldout.close()


def test_close_removes_every_folder(fake_lab, tmp_path):
    tmpdir_before = os.environ.get("TMPDIR")
    env = _env(2)
    env.reset()
    engine_folders = [Path(lab.tmpdir) for lab in fake_lab.INSTANCES]
    assert all(folder.is_relative_to(tmp_path) for folder in engine_folders)
    assert [f.parent.name for f in engine_folders] == ["lab_tmp_0", "lab_tmp_1"]  # private
    assert os.environ.get("TMPDIR") == tmpdir_before
    env.close()
    env.close()  # twice is fine
    assert os.listdir(tmp_path) == []
    assert not any(lab.is_running() for lab in fake_lab.INSTANCES)
    with pytest.raises(RuntimeError, match="closed"):
        env.reset()


@pytest.mark.parametrize(
    ("images", "ids", "message"),
    [
        (np.zeros((3, 255, 256, 3), np.uint8), [1, 2, 3], "shape"),
        (np.zeros((3, 256, 256, 4), np.uint8), [1, 2, 3], "shape"),
        (np.zeros((3, 256, 256, 3), np.float32), [1, 2, 3], "uint8"),
        (np.zeros((1, 256, 256, 3), np.uint8), [1], "at least 2"),
        (np.zeros((3, 256, 256, 3), np.uint8), [1, 2], "3 images"),
        (np.zeros((3, 256, 256, 3), np.uint8), [1, 1, 2], "unique"),
    ],
)
def test_bad_images_are_rejected_before_any_lab_exists(fake_lab, tmp_path, images, ids, message):
    with pytest.raises(ValueError, match=message):
        DmlabHarlowEnv(1, images, ids)
    assert fake_lab.INSTANCES == [] and os.listdir(tmp_path) == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"width": 86}, "width must be a positive multiple of 4"),
        ({"height": 30}, "height must be a positive multiple of 4"),
        ({"num_workers": 3}, "num_workers"),
        ({"action_repeat": 0}, "action_repeat"),
        ({"split": "test"}, r"split must be one of \('train', 'heldout'\), got 'test'"),
        ({"renderer": "gpu"}, "renderer"),
    ],
)
def test_bad_arguments_are_rejected(fake_lab, tmp_path, kwargs, message):
    with pytest.raises(ValueError, match=message):
        _env(2, **kwargs)
    assert os.listdir(tmp_path) == []


def test_level_settings_are_validated():
    with pytest.raises(ValueError, match="even"):
        HarlowLevelSettings(ProtocolConfig(trials_per_episode=5))
    with pytest.raises(ValueError, match="correct_reward must be an integer"):
        HarlowLevelSettings(ProtocolConfig(correct_reward=2.5))
    with pytest.raises(ValueError, match="episodes_per_reset"):
        HarlowLevelSettings(episodes_per_reset=0)
    with pytest.raises(ValueError, match="ProtocolConfig"):
        HarlowLevelSettings({"trials_per_episode": 2})


def _played_protocol(config: dict[str, str]) -> dict:
    """The protocol a Lab config makes the level play, in ``ProtocolConfig``'s terms."""
    assert config["timeToFixateCross"] == config["timeToFixateTarget"]
    return {
        "trials_per_episode": int(config["trialsPerEpisodeCap"]),
        "hold_frames": int(config["timeToFixateCross"]),
        "inter_trial_frames": int(config["fastInterTrialInterval"]),
        "fixation_reward": float(config["fixationReward"]),
        "correct_reward": float(config["correctReward"]),
        "incorrect_reward": float(config["incorrectReward"]),
        "episode_length_seconds": float(config["episodeLengthSeconds"]),
        "fps": int(config["fps"]),
        "target_size": float(config["targetSize"]),
        "fixation_size": float(config["fixationSize"]),
    }


def _simulated_protocol(simulator: BatchedHarlowSimulator) -> dict:
    config = simulator.config
    return {
        "trials_per_episode": config.trials_per_episode,
        "hold_frames": config.hold_frames,
        "inter_trial_frames": config.inter_trial_frames,
        "fixation_reward": config.fixation_reward,
        "correct_reward": config.correct_reward,
        "incorrect_reward": config.incorrect_reward,
        "episode_length_seconds": config.episode_length_seconds,
        "fps": config.fps,
        "target_size": TARGET_SIZE,
        "fixation_size": FIXATION_SIZE,
    }


@pytest.mark.parametrize(
    "protocol_kwargs",
    [
        {},
        {
            "trials_per_episode": 4,
            "hold_frames": 3,
            "inter_trial_frames": 7,
            "fixation_reward": 2.0,
            "correct_reward": 10.0,
            "incorrect_reward": -3.0,
            "episode_length_seconds": 12.5,
            "fps": 30,
        },
    ],
)
def test_the_lab_plays_the_simulators_protocol(fake_lab, protocol_kwargs):
    """The settings the adapter hands the level are the protocol the simulator plays."""
    simulator = BatchedHarlowSimulator(1, _images(2), [1, 2], **protocol_kwargs)
    level = HarlowLevelSettings(ProtocolConfig(**protocol_kwargs))
    env = _env(1, count=3, level=level)
    try:
        lab_config = fake_lab.INSTANCES[-1].config
        assert _played_protocol(lab_config) == _simulated_protocol(simulator)
    finally:
        env.close()
        simulator.close()


def test_the_default_protocol_is_the_stock_level(fake_lab):
    """ProtocolConfig's defaults are harlow_factory.lua's (as the fake copies them), so
    the default level config changes nothing the stock level would do."""
    config = HarlowLevelSettings().to_config()
    stock = fake_lab.FACTORY_DEFAULTS
    for key, value in config.items():
        assert float(value) == stock[key], key
    assert config == {  # the strings the fixtures were recorded with
        "episodeLengthSeconds": "300.0",
        "trialsPerEpisodeCap": "6",
        "timeToFixateCross": "4",
        "timeToFixateTarget": "4",
        "fastInterTrialInterval": "5",
        "fixationReward": "1",
        "correctReward": "5",
        "incorrectReward": "-5",
        "targetSize": "0.4",
        "fixationSize": "0.1",
        "episodesPerReset": "1",
    }


def test_config_keys_are_the_ones_the_level_script_reads(fake_lab, tmp_path):
    config = harlow_lab_config(
        dataset_dir=tmp_path,
        num_images=4,
        width=84,
        height=84,
        minimal_ui=False,
        level=HarlowLevelSettings(),
    )
    lab = fake_lab.Lab(str(LEVEL_SCRIPT), ["RGB_INTERLEAVED"], config=config)  # no error
    lab.close()
    with pytest.raises(RuntimeError, match="Invalid setting"):
        fake_lab.Lab(str(LEVEL_SCRIPT), ["RGB_INTERLEAVED"], config={**config, "isTrain": "0"})


def test_reset_frames_show_the_screen(fake_lab):
    env = _env(3, width=84, height=84)
    try:
        frames = env.reset()
        assert frames.shape == (3, 84, 84, 3) and frames.dtype == np.uint8
        red = (frames[..., 0] > 200) & (frames[..., 1] < 60)
        assert red.sum(axis=(1, 2)).min() > 0  # the cross is visible in every frame
        assert [lab.num_steps() for lab in fake_lab.INSTANCES] == [1, 1, 1]
    finally:
        env.close()


def test_each_env_draws_its_own_reproducible_seeds(fake_lab):
    def seeds_of(seed: int, num_envs: int = 3, first_env: int = 0) -> list[int]:
        fake_lab.INSTANCES.clear()
        env = _env(num_envs, seed=seed, first_env=first_env)
        env.reset()
        env.reset()
        env.close()
        return [s for lab in fake_lab.INSTANCES for s in lab.seeds]

    first = seeds_of(7)
    assert len(set(first)) == 6
    assert all(isinstance(s, int) and 0 <= s < 2**31 for s in first)
    assert seeds_of(7) == first
    assert set(seeds_of(8)).isdisjoint(first)
    # Keyed by the run's seed and the global index: Labs 1 and 2 of the run, built alone.
    assert seeds_of(7, num_envs=2, first_env=1) == first[2:]


def test_auto_reset_after_timeout(fake_lab):
    # 0.1 s at 60 fps is 6 frames: the reset's no-op frame and 5 steps.
    env = _env(2, level=HarlowLevelSettings(ProtocolConfig(episode_length_seconds=0.1)))
    try:
        env.reset()
        zeros = np.zeros((2, 7), np.int64)
        dones = [env.step(zeros)[2] for _ in range(5)]
        np.testing.assert_array_equal(np.array(dones)[:, 0], [False] * 4 + [True])
        assert all(len(lab.seeds) == 2 and lab.num_steps() == 1 for lab in fake_lab.INSTANCES)
    finally:
        env.close()


def test_trials_are_reported_and_the_last_choice_ends_the_episode(fake_lab):
    env = _env(2, level=SHORT_EPISODE)
    try:
        frames = env.reset()
        looks = np.array([-LOOK_TO_IMAGE, LOOK_TO_IMAGE])  # env 0 left, env 1 right
        first = _play_trial(fake_lab, env, frames, looks)
        rewards = np.array([r for _, r, _, _ in first])
        assert (rewards == 1).sum(axis=0).tolist() == [1, 1]
        choice = np.abs(rewards) == 5
        assert choice.sum(axis=0).tolist() == [1, 1]
        step = int(np.argmax(choice[:, 0]))
        info = first[step][3]
        np.testing.assert_array_equal(info["trial"], [1, 1])
        np.testing.assert_array_equal(info["correct"], rewards[step] > 0)
        trial_steps = [i for i, out in enumerate(first) if out[3]["trial"].any()]
        assert trial_steps == [step]
        labs = fake_lab.INSTANCES
        expected_pairs = [(lab._correct - 1, lab._incorrect - 1) for lab in labs]
        assert list(zip(info["correct_image"], info["incorrect_image"], strict=True)) == (
            expected_pairs
        )
        assert "correct_id" not in info  # the ids here are strings, not dataset ids

        second = _play_trial(fake_lab, env, first[-1][0], looks)
        ends = [i for i, out in enumerate(second) if out[2].any()]
        assert len(ends) == 1 and second[ends[0]][2].all()
        frames, rewards, _, info = second[ends[0]]
        assert np.all(np.abs(rewards) == 5)  # the final choice's reward comes with done
        np.testing.assert_array_equal(info["trial"], [2, 2])
        red = (frames[..., 0] > 200) & (frames[..., 1] < 60)
        assert red.sum(axis=(1, 2)).min() > 0  # already the next episode's first frame
        assert all(len(lab.seeds) == 2 for lab in labs)
    finally:
        env.close()


def test_integer_image_ids_are_reported_as_dataset_ids(fake_lab):
    dataset_ids = [201, 202, 203, 204, 205]
    env = DmlabHarlowEnv(2, _images(5), dataset_ids, level=SHORT_EPISODE)
    try:
        env.reset()
        _, _, _, info = env.step(np.zeros((2, 7), np.int64))
        for index, lab in enumerate(fake_lab.INSTANCES):
            assert info["correct_id"][index] == dataset_ids[lab._correct - 1]
            assert info["incorrect_id"][index] == dataset_ids[lab._incorrect - 1]
        assert info["correct_id"].dtype == np.int32
    finally:
        env.close()


def test_action_repeat_advances_several_frames(fake_lab):
    env = _env(1, action_repeat=4)
    try:
        env.reset()
        env.step(np.zeros((1, 7), np.int64))
        assert fake_lab.INSTANCES[0].num_steps() == 1 + 4
    finally:
        env.close()


@pytest.mark.parametrize(
    ("actions", "message"),
    [
        (np.zeros((2, 6), np.int64), "shape"),
        (np.zeros((3, 7), np.int64), "shape"),
        (np.zeros((2, 7), np.float32), "integers"),
        (np.array([[0] * 7, [600, 0, 0, 0, 0, 0, 0]]), "environment 1 at index 0"),
        (np.array([[0, 0, 0, 0, 2, 0, 0], [0] * 7]), "environment 0 at index 4"),
    ],
)
def test_bad_actions_are_rejected(fake_lab, actions, message):
    env = _env(2)
    try:
        env.reset()
        with pytest.raises(ValueError, match=message):
            env.step(actions)
    finally:
        env.close()


def test_step_before_reset_is_an_error(fake_lab):
    env = _env(1)
    try:
        with pytest.raises(RuntimeError, match="reset"):
            env.step(np.zeros((1, 7), np.int64))
    finally:
        env.close()


def _record(env: DmlabHarlowEnv, fake) -> list:
    frames = env.reset()
    outputs = [frames]
    looks = np.array([-LOOK_TO_IMAGE, LOOK_TO_IMAGE, LOOK_TO_IMAGE, -LOOK_TO_IMAGE])
    for _ in range(2):
        trial = _play_trial(fake, env, frames, looks)
        outputs += trial
        frames = trial[-1][0]
    env.close()
    return outputs


def _assert_same(a, b) -> None:
    if isinstance(a, dict):
        assert a.keys() == b.keys()
        for key in a:
            np.testing.assert_array_equal(a[key], b[key])
    elif isinstance(a, tuple):
        for x, y in zip(a, b, strict=True):
            _assert_same(x, y)
    else:
        np.testing.assert_array_equal(a, b)


def test_workers_give_the_same_results_as_in_process(fake_lab, tmp_path):
    in_process = _record(_env(4, seed=5, level=SHORT_EPISODE, num_workers=0), fake_lab)
    in_workers = _record(_env(4, seed=5, level=SHORT_EPISODE, num_workers=2), fake_lab)
    assert len(in_process) == len(in_workers)
    assert any(out[2].any() for out in in_process[1:])  # an episode ended on the way
    for a, b in zip(in_process, in_workers, strict=True):
        _assert_same(a, b)
    assert os.listdir(tmp_path) == []


def test_dead_worker_gives_clear_error(fake_lab, tmp_path):
    env = _env(2, num_workers=1)
    frames = env.reset()
    for png in env.dataset_dir.iterdir():
        png.unlink()  # the engine aborts when it loads the first image
    with pytest.raises(DmlabWorkerError, match=r"worker 0 \(pid \d+.*died.*SIGABRT"):
        _play_trial(fake_lab, env, frames, np.array([LOOK_TO_IMAGE] * 2))
    env.close()
    assert os.listdir(tmp_path) == []


def test_garbage_collection_stops_workers_and_removes_folders(fake_lab, tmp_path):
    env = _env(2, num_workers=2)
    pool = env._labs()
    processes = list(pool._processes)
    assert all(p.poll() is None for p in processes)
    del env, pool
    gc.collect()
    assert all(p.poll() is not None for p in processes)
    assert os.listdir(tmp_path) == []


class TestFakeFollowsTheDocumentedApi:
    """The fake must fail where the real module fails, or the tests above prove little."""

    def _lab(self, fake, **config):
        settings = {"datasetPath": "dummy", "width": "84", "height": "84", **config}
        return fake.Lab(fake.STOCK_LEVEL, ["RGB_INTERLEAVED"], config=settings)

    def test_config_values_must_be_strings(self, fake_lab):
        with pytest.raises(TypeError):
            fake_lab.Lab(fake_lab.STOCK_LEVEL, ["RGB_INTERLEAVED"], config={"width": 84})

    def test_unknown_level_observation_size_and_setting(self, fake_lab):
        with pytest.raises(RuntimeError, match="init"):
            fake_lab.Lab("no_such_level", ["RGB_INTERLEAVED"])
        with pytest.raises(ValueError, match="Unknown observation"):
            fake_lab.Lab(fake_lab.STOCK_LEVEL, ["DEPTH_OF_FIELD"])
        with pytest.raises(RuntimeError, match="multiples of 4"):
            self._lab(fake_lab, width="82")
        with pytest.raises(RuntimeError, match="Invalid setting"):
            self._lab(fake_lab, trainBatch="24")  # the stock level has no such setting

    def test_call_order_and_action_checks(self, fake_lab):
        lab = self._lab(fake_lab, episodeLengthSeconds="0.05")
        action = np.zeros(7, np.intc)
        with pytest.raises(RuntimeError):
            lab.step(action)
        with pytest.raises(RuntimeError):
            lab.observations()
        lab.reset(seed=3)
        with pytest.raises(ValueError, match="dtype"):
            lab.step(np.zeros(7, np.int64))
        with pytest.raises(ValueError, match="shape"):
            lab.step(np.zeros(6, np.intc))
        with pytest.raises(ValueError, match="seed"):
            lab.reset(seed=np.int64(3))
        assert lab.step(action, num_steps=10) == 0.0
        assert not lab.is_running() and lab.num_steps() == 10  # counts all asked for
        with pytest.raises(RuntimeError):
            lab.observations()
        assert lab.events() == []
        assert lab.close() and not lab.close()


def test_episodes_start_in_place_until_the_lab_resets(fake_lab):
    """episodes_per_reset=3: two episodes start in place (a new pair, no reset), the
    third ends the Lab's episode; every trial still reads fixation +1 plus choice +-5."""
    num_envs = 2
    level = HarlowLevelSettings(ProtocolConfig(trials_per_episode=2), episodes_per_reset=3)
    env = DmlabHarlowEnv(num_envs, _images(6), list(range(1, 7)), seed=3, level=level)
    wrapper = SaccadeWrapper(env, IdsObserver(num_envs))
    try:
        wrapper.reset()
        rng = np.random.default_rng(1)
        dones, pairs = [], []
        for _ in range(8):
            _, reward, done, info = wrapper.step(rng.integers(0, 2, num_envs))
            np.testing.assert_array_equal(reward, info["choice_reward"] + 1.0)
            dones.append(done.all())
            pairs.append(frozenset((int(info["left_id"][0]), int(info["right_id"][0]))))
        assert dones == [False, True] * 4
        assert [len(lab.seeds) for lab in fake_lab.INSTANCES] == [2, 2]  # one reset after 3
        episode_pairs = [pairs[2 * k] for k in range(4)]
        assert all(pairs[2 * k] == pairs[2 * k + 1] for k in range(4))
        assert len(set(episode_pairs[:3])) == 3  # a new pair in each episode
        assert fake_lab.INSTANCES[0].config["episodesPerReset"] == "3"
    finally:
        wrapper.close()
