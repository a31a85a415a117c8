"""The training loop: collect segments, update, log, checkpoint, resume.

At the end of each logging window the run's progress is also written to
``<workdir>/progress.json`` (``harlow.run_progress``), which ``harlow.sweep`` follows.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import ml_collections
import numpy as np
import tensorflow as tf
from absl import logging
from tqdm import tqdm

from harlow.agent.builder import build_agent
from harlow.agent.network import ActorCritic
from harlow.checkpointing import (
    CHECKPOINT_DIR,
    CONFIG_FILE,
    TrainingState,
    load_config,
    remove_interrupted_saves,
    save_config,
)
from harlow.config.changes import Change, check_resume_changes
from harlow.config.validation import validate_config
from harlow.learner.a2c import A2CLearner, make_optimizer
from harlow.learner.act_and_learn import ActAndLearn, can_act_and_learn
from harlow.learner.rollout import ActingTime, Actor, BatchedEnv, ChoiceStats
from harlow.progress import progress_bar
from harlow.run_progress import RunProgress, progress_path, write_progress
from harlow.signals import raise_if_interrupted
from harlow.task import Task
from harlow.tasks import get_task
from harlow.workdirs import WorkdirError, checked_workdir, os_reason, workdir_lock


class NonFiniteLossError(RuntimeError):
    """The loss or gradients became NaN or infinite; the last checkpoint is kept."""


@dataclass
class TrainResult:
    """Where a run ended."""

    env_steps: int
    episodes: int
    updates: int
    steps_per_second: float
    last_checkpoint: str | None
    # Of the last logging window in which episodes ended, or of the episodes since (a run
    # shorter than a window); None if no episode ended in this run.
    recent_reward_per_trial: float | None
    # Fractions of this run's time spent in the environment, the policy (acting) and learning.
    time_fractions: dict[str, float]
    frames_per_second: float  # frames the environment rendered (0 if it does not say)


def seed_everything(seed: int) -> tuple[int, np.random.Generator]:
    """Seeds TensorFlow; returns an environment seed and the actor's RNG."""
    tf.random.set_seed(seed)
    env_seq, actor_seq = np.random.SeedSequence(seed).spawn(2)
    return int(env_seq.generate_state(1)[0]), np.random.default_rng(actor_seq)


def entropy_coef_at(config: ml_collections.ConfigDict, env_steps: int) -> float:
    """Entropy bonus, decayed linearly from ``entropy_coef`` to ``entropy_coef_final``."""
    fraction = min(1.0, env_steps / config.train.total_env_steps)
    start, end = config.train.entropy_coef, config.train.entropy_coef_final
    return start + fraction * (end - start)


class _Window:
    """Averages of episode stats and metrics over one logging window."""

    def __init__(self, env_steps: int) -> None:
        self.returns: list[float] = []
        self.lengths: list[int] = []
        self.metrics: dict[str, list[float]] = {}
        self.choices = ChoiceStats()
        self.start_time = time.perf_counter()
        self.start_steps = env_steps
        self.seconds = {"env": 0.0, "policy": 0.0, "learn": 0.0}
        self.frames = 0

    def add_time(self, acting: ActingTime, learn_seconds: float) -> None:
        self.seconds["env"] += acting.env
        self.seconds["policy"] += acting.policy
        self.seconds["learn"] += learn_seconds
        self.frames += acting.frames

    def add_metrics(self, metrics: dict[str, tf.Tensor]) -> None:
        for key, value in metrics.items():
            self.metrics.setdefault(key, []).append(float(value))


def build_learner(config: ml_collections.ConfigDict, agent: ActorCritic) -> A2CLearner:
    """The A2C learner (with a built optimizer) described by ``config.train``."""
    optimizer = make_optimizer(config.train.optimizer, config.train.learning_rate)
    optimizer.build(agent.trainable_variables)
    return A2CLearner(
        agent,
        optimizer,
        discount=config.train.discount,
        gae_lambda=config.train.gae_lambda,
        value_coef=config.train.value_coef,
        entropy_coef=config.train.entropy_coef,
        max_grad_norm=config.train.max_grad_norm,
        jit_compile=config.train.get("jit_compile", False),
    )


@dataclass
class Training:
    """What a run trains with: its environments, agent, learner and actor.

    ``train`` builds it with ``build_training``; so do the benchmarks
    (``harlow.benchmarks``), which time the same steps.
    """

    env: BatchedEnv
    agent: ActorCritic
    learner: A2CLearner
    actor: Actor
    # Set for an environment written in TensorFlow: one compiled call acts and learns.
    act_and_learn: ActAndLearn | None = None

    def update(self, unroll_length: int) -> tuple[dict[str, tf.Tensor], ActingTime, float]:
        """Collects a segment and learns from it: the metrics, the acting time, the
        seconds spent learning (with ``act_and_learn``, all of the call's time)."""
        if self.act_and_learn is not None:
            start = time.perf_counter()
            metrics = self.act_and_learn(unroll_length)
            return metrics, self.actor.time.drain(), time.perf_counter() - start
        segment = self.actor.collect(unroll_length)
        learn_start = time.perf_counter()
        metrics = self.learner.update(segment)
        acting = self.actor.time.drain()
        return metrics, acting, time.perf_counter() - learn_start


def build_training(
    config: ml_collections.ConfigDict, env: BatchedEnv, actor_rng: np.random.Generator
) -> Training:
    """The agent, learner and actor of ``config`` on ``env``, as ``train`` builds them."""
    agent = build_agent(config)
    learner = build_learner(config, agent)
    actor = Actor(env, agent, actor_rng)
    fused = ActAndLearn(actor, learner) if can_act_and_learn(actor) else None
    return Training(env, agent, learner, actor, fused)


@contextlib.contextmanager
def training_setup(config: ml_collections.ConfigDict) -> Iterator[Training]:
    """``build_training`` on the environments ``train`` makes for ``config`` (seeded the
    same way); closes them on exit."""
    env_seed, actor_rng = seed_everything(config.seed)
    env = get_task(config.task).make_env(config, config.train.num_envs, env_seed)
    try:
        yield build_training(config, env, actor_rng)
    finally:
        env.close()


def train(
    config: ml_collections.ConfigDict,
    workdir: str | os.PathLike,
    show_progress: bool = True,
) -> TrainResult:
    """Trains (or resumes training of) the agent described by ``config`` in ``workdir``.

    Holds the workdir's lock throughout (``WorkdirError`` if another process trains
    there, if the workdir cannot be written, or if saving the config or a checkpoint
    fails, e.g. on a full disk: the last checkpoint is kept whole). A resume applies
    changed schedule fields and refuses other changes with a ``ValueError`` naming them
    (see ``harlow.config.changes``).
    """
    validate_config(config)
    workdir = checked_workdir(workdir)
    with workdir_lock(workdir):
        return _train(config, workdir, show_progress)


def resume_changes(config: ml_collections.ConfigDict, workdir: Path) -> list[Change]:
    """How ``config`` differs from the config of the run it resumes (none for a new run).

    Raises ``ValueError`` naming the changed fields a resume cannot apply.
    """
    has_checkpoint = (workdir / CHECKPOINT_DIR / "checkpoint").is_file()
    if not has_checkpoint or not (workdir / CONFIG_FILE).is_file():
        return []
    return check_resume_changes(load_config(workdir), config, workdir)


def _train(config: ml_collections.ConfigDict, workdir: Path, show_progress: bool) -> TrainResult:
    """``train`` once the workdir is locked: builds the environments, trains, closes them."""
    changes = resume_changes(config, workdir)
    task = get_task(config.task)
    env_seed, actor_rng = seed_everything(config.seed)
    env = task.make_env(config, config.train.num_envs, env_seed)
    try:
        return _train_on(env, config, workdir, show_progress, task, changes, actor_rng)
    finally:
        env.close()  # worker processes, Labs and their dataset copies go now, however it ends


def _train_on(
    env: BatchedEnv,
    config: ml_collections.ConfigDict,
    workdir: Path,
    show_progress: bool,
    task: Task,
    changes: list[Change],
    actor_rng: np.random.Generator,
) -> TrainResult:
    """The training loop on ``env``: restore, act, learn, log and save until done."""
    training = build_training(config, env, actor_rng)
    agent, learner, actor = training.agent, training.learner, training.actor
    state = TrainingState(agent, learner.optimizer, workdir, config.train.keep_checkpoints)
    last_checkpoint = state.restore_latest()
    if last_checkpoint:
        logging.info("Resuming from %s at %d env steps", last_checkpoint, state.env_steps.numpy())
        for change in changes:
            logging.warning("Resuming with a changed %s", change)
        if hasattr(env, "start_at"):  # a curriculum: episodes from now on continue it
            env.start_at(int(state.env_steps.numpy()))
    # The checkpoint restored the optimizer's learning rate: the config's applies.
    learner.optimizer.learning_rate = config.train.learning_rate
    _save_config(config, workdir)
    writer = tf.summary.create_file_writer(str(workdir / "train"))
    total = config.train.total_env_steps
    steps_per_update = config.train.num_envs * config.train.unroll_length
    window = _Window(int(state.env_steps.numpy()))
    recent_reward: float | None = None
    last_save_time = time.perf_counter()
    progress = progress_bar(
        total=total,
        initial=int(state.env_steps.numpy()),
        unit="step",
        unit_scale=True,
        disable=not show_progress,
        desc=f"{config.task} seed {config.seed}",
        dynamic_ncols=True,
    )
    progress_file = _ProgressFile(workdir)
    run_start = time.perf_counter()
    start_steps = int(state.env_steps.numpy())
    run_time = _Window(start_steps)
    try:
        while int(state.env_steps.numpy()) < total:
            raise_if_interrupted()
            learner.entropy_coef.assign(entropy_coef_at(config, int(state.env_steps.numpy())))
            metrics, acting, learn_seconds = training.update(config.train.unroll_length)
            window.add_time(acting, learn_seconds)
            run_time.add_time(acting, learn_seconds)
            if not bool(metrics.pop("optim/finite")):
                raise NonFiniteLossError(
                    f"non-finite loss or gradients at update {int(state.updates.numpy()) + 1} "
                    f"(losses/total={float(metrics['losses/total'])}); training stopped and "
                    f"the last good checkpoint ({last_checkpoint}) was kept. Try a lower "
                    "config.train.learning_rate or config.train.max_grad_norm."
                )
            returns, lengths = actor.stats.drain()
            state.env_steps.assign_add(steps_per_update)
            state.updates.assign_add(1)
            state.episodes.assign_add(len(returns))
            progress.update(steps_per_update)
            window.returns += returns
            window.lengths += lengths
            window.choices.merge(actor.choices.drain())
            window.add_metrics(metrics)
            if int(state.updates.numpy()) % config.train.log_every_updates == 0:
                logged, steps_per_second = _log_window(writer, window, state, task, progress)
                recent_reward = logged if logged is not None else recent_reward
                window = _Window(int(state.env_steps.numpy()))
                progress_file.write(state, total, logged, steps_per_second)
            if time.perf_counter() - last_save_time >= config.train.checkpoint_every_seconds:
                last_checkpoint = _save_checkpoint(state, workdir, last_checkpoint)
                last_save_time = time.perf_counter()
    except KeyboardInterrupt as interrupt:
        progress.close()
        last_checkpoint = _save_checkpoint(state, workdir, last_checkpoint)
        logging.warning("Interrupted: saved %s", last_checkpoint)
        interrupt.saved_checkpoint = last_checkpoint  # harlow.train: "checkpoint saved"
        raise
    except WorkdirError:
        progress.close()  # the error goes below the bar
        raise
    progress.close()
    last_checkpoint = _save_checkpoint(state, workdir, last_checkpoint)
    writer.flush()
    if recent_reward is None:  # no logging window with episodes: the episodes since
        recent_reward = _reward_per_trial(window, task)
    elapsed = time.perf_counter() - run_start
    total_seconds = max(sum(run_time.seconds.values()), 1e-9)
    return TrainResult(
        env_steps=int(state.env_steps.numpy()),
        episodes=int(state.episodes.numpy()),
        updates=int(state.updates.numpy()),
        steps_per_second=(int(state.env_steps.numpy()) - start_steps) / max(elapsed, 1e-9),
        last_checkpoint=last_checkpoint,
        recent_reward_per_trial=recent_reward,
        time_fractions={k: v / total_seconds for k, v in run_time.seconds.items()},
        frames_per_second=run_time.frames / max(elapsed, 1e-9),
    )


def _save_config(config: ml_collections.ConfigDict, workdir: Path) -> None:
    """``save_config``; raises ``WorkdirError`` naming the file where it cannot be written
    (a full disk): the previous ``config.json``, if any, is kept whole."""
    try:
        save_config(config, workdir)
    except OSError as e:
        raise WorkdirError(f"cannot save the config {workdir / CONFIG_FILE}: {os_reason(e)}") from e


def _save_checkpoint(state: TrainingState, workdir: Path, last_checkpoint: str | None) -> str:
    """``state.save()``; returns the checkpoint's path.

    A save that fails (a full disk: TensorFlow raises an ``OpError``) raises
    ``WorkdirError`` naming the checkpoint folder and the reason, after removing what the
    save left; the checkpoint state file still names the previous checkpoint, whole.
    """
    try:
        return state.save()
    except (OSError, tf.errors.OpError) as e:
        with contextlib.suppress(Exception):  # best effort: the next start removes them too
            remove_interrupted_saves(workdir)
        kept = (
            f"the last checkpoint {last_checkpoint} is kept"
            if last_checkpoint
            else "no checkpoint was saved"
        )
        raise WorkdirError(
            f"cannot save a checkpoint in {workdir / CHECKPOINT_DIR}: {os_reason(e)}; {kept}"
        ) from e


class _ProgressFile:
    """Writes the run's ``progress.json`` at each logging window (``harlow.run_progress``).

    The file only feeds progress displays: a write that fails (a full disk) is logged
    once and training goes on; a checkpoint save that fails stops it.
    """

    def __init__(self, workdir: Path) -> None:
        self._workdir = workdir
        self._warned = False

    def write(
        self,
        state: TrainingState,
        total_env_steps: int,
        reward_per_trial: float | None,
        steps_per_second: float,
    ) -> None:
        record = RunProgress(
            pid=os.getpid(),
            env_steps=int(state.env_steps.numpy()),
            total_env_steps=int(total_env_steps),
            episodes=int(state.episodes.numpy()),
            reward_per_trial=reward_per_trial,
            steps_per_second=steps_per_second,
        )
        try:
            write_progress(self._workdir, record)
        except OSError as e:
            if not self._warned:
                logging.warning(
                    "cannot write %s (%s); training goes on without it",
                    progress_path(self._workdir),
                    os_reason(e),
                )
                self._warned = True


def _reward_per_trial(window: _Window, task: Task) -> float | None:
    """Mean reward per trial of the window's episodes (``None`` if no episode ended)."""
    if not window.returns:
        return None
    return float(np.mean(window.returns)) / task.trials_in(float(np.mean(window.lengths)))


def _choice_scalars(window: _Window) -> dict[str, float]:
    """Accuracy on trial 1 and on the later trials of the window's choices, and the share of
    its episodes that timed out, where the environment reports choices (else none)."""
    scalars = {}
    for tag, first_trial, last_trial in (
        ("choices/accuracy_trial_1", 1, 1),
        ("choices/accuracy_trials_2_on", 2, None),
    ):
        accuracy = window.choices.accuracy(first_trial, last_trial)
        if accuracy is not None:
            scalars[tag] = accuracy
    if window.choices.made and window.returns:
        scalars["episode/timed_out_fraction"] = window.choices.timed_out / len(window.returns)
    return scalars


def _log_window(
    writer: tf.summary.SummaryWriter,
    window: _Window,
    state: TrainingState,
    task: Task,
    progress: tqdm,
) -> tuple[float | None, float]:
    """Writes the window's summaries; returns its reward per trial (None if no episode
    ended) and its env steps per second."""
    step = int(state.env_steps.numpy())
    elapsed = max(time.perf_counter() - window.start_time, 1e-9)
    steps_per_second = (step - window.start_steps) / elapsed
    reward_per_trial = _reward_per_trial(window, task)
    choice_scalars = _choice_scalars(window)
    with writer.as_default(step=step):
        for key, values in window.metrics.items():
            tf.summary.scalar(key, np.mean(values))
        tf.summary.scalar("perf/steps_per_second", steps_per_second)
        if window.frames:
            tf.summary.scalar("perf/frames_per_second", window.frames / elapsed)
        busy = max(sum(window.seconds.values()), 1e-9)
        for part, seconds in window.seconds.items():
            tf.summary.scalar(f"perf/fraction_{part}", seconds / busy)
        tf.summary.scalar("progress/episodes", int(state.episodes.numpy()))
        if reward_per_trial is not None:
            tf.summary.scalar("episode/return", float(np.mean(window.returns)))
            tf.summary.scalar("episode/reward_per_trial", reward_per_trial)
        for tag, value in choice_scalars.items():
            tf.summary.scalar(tag, value)
    shown = "n/a" if reward_per_trial is None else f"{reward_per_trial:.3f}"
    if progress.disable:
        logging.info(
            "env steps %d, episodes %d, reward per trial %s, %.0f steps/s",
            step,
            int(state.episodes.numpy()),
            shown,
            steps_per_second,
        )
    postfix = {"episodes": int(state.episodes.numpy()), "reward_per_trial": shown}
    if "choices/accuracy_trials_2_on" in choice_scalars:
        postfix["trials_2_on"] = f"{choice_scalars['choices/accuracy_trials_2_on']:.3f}"
    postfix["steps_per_s"] = f"{steps_per_second:,.0f}"
    progress.set_postfix(postfix, refresh=False)
    return reward_per_trial, steps_per_second
