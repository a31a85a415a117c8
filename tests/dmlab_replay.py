"""Replays a recorded episode on the real DeepMind Lab, in a worker process.

Kept apart from the test modules, which import TensorFlow: a worker imports this
module by name to build the replay, and DeepMind Lab's renderer must never share a
process with TensorFlow.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from harlow.psychlab.dmlab import (
    IMAGE_PAIR_EVENT,
    LEVEL_SCRIPT,
    OBSERVATION,
    TRIAL_EVENT,
    HarlowLevelSettings,
    harlow_lab_config,
    import_deepmind_lab,
    tensorflow_loaded,
)


@dataclass(frozen=True)
class ReplaySpec:
    """Which recorded episode to replay, and where the engine may write."""

    fixtures: Path
    recording: str
    episode: int
    temporary_dir: Path


class RecordedEpisodeReplay:
    """Steps the recorded actions of one episode through harlow_custom.lua."""

    def __init__(self, spec: ReplaySpec) -> None:
        assert not tensorflow_loaded(), "a worker process imported TensorFlow"
        self.spec = spec

    def run(self) -> dict:
        """Replays the episode; returns what the engine gave next to what was recorded."""
        spec = self.spec
        recording = np.load(spec.fixtures / spec.recording)
        episodes = json.loads((spec.fixtures / "trials.json").read_text())[spec.recording]
        episode = episodes["episodes"][spec.episode]
        rows = recording["episode"] == episode["episode"]
        config = harlow_lab_config(
            dataset_dir=spec.fixtures / "dataset",
            num_images=24,
            width=int(episodes["width"]),
            height=int(episodes["height"]),
            minimal_ui=episode["minimal_ui"],
            level=HarlowLevelSettings(),
        )
        os.environ["TMPDIR"] = str(spec.temporary_dir)
        lab = import_deepmind_lab().Lab(str(LEVEL_SCRIPT), [OBSERVATION], config=config)
        try:
            lab.reset(seed=episode["seed"])
            pairs = [list(v) for name, v in lab.events() if name == IMAGE_PAIR_EVENT]
            rewards, records, same_pixels = [], [], []
            for action, frame in zip(
                recording["actions"][rows], recording["frames"][rows], strict=True
            ):
                rewards.append(lab.step(np.ascontiguousarray(action, dtype=np.intc)))
                records += [v[0] for name, v in lab.events() if name == TRIAL_EVENT]
                same_pixels.append(float(np.mean(lab.observations()[OBSERVATION] == frame)))
            final = episode["final_step"]
            final_reward = lab.step(np.array(final["action"], dtype=np.intc))
            records += [v[0] for name, v in lab.events() if name == TRIAL_EVENT]
            running = lab.is_running()
        finally:
            lab.close()
        return {
            "episode": episode,
            "pairs": pairs,
            "rewards": rewards,
            "recorded_rewards": recording["rewards"][rows].tolist(),
            "final_reward": final_reward,
            "records": records,
            "same_pixels": float(np.mean(same_pixels)),
            "running": running,
        }

    def close(self) -> None:
        """Nothing to release (the Lab is closed after each replay)."""
