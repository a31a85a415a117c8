"""Recording real DeepMind Lab Harlow episodes with per-frame ground truth, and measuring
the vision pipeline on such recordings.

Record (DeepMind Lab must be importable; never next to TensorFlow)::

    python -m preprocessing.record_dmlab --out=/work/recordings/harlow_84.npz \\
        --width=84 --height=84 --episodes=20 --seed=1 --dataset=/tmp/harlow_images_1

Measure (no engine needed)::

    python -m preprocessing.record_dmlab --measure /work/recordings/harlow_*.npz

``--dataset`` is a folder of ``0001.png``, ``0002.png``, ... (256x256 RGB); if it holds
no ``0001.png`` it is filled first with 24 images drawn with ``--seed``: 12 of the
project's bundled faces and 12 generated ones (stripes, checks, noise, rings, shapes,
a dark and a red image), so the images are neither only faces nor the fixtures' images.

Episodes are played on ``harlow/psychlab/levels/harlow_custom.lua`` (the stock Harlow
factory, ``trainBatch`` = number of images) by a scripted :class:`GazeController` that
steers by the engine's view angles (``DEBUG.POS.ROT``): it seeks the cross (sometimes
after random looks, with overshoots), and while the images are shown it moves the gaze
in random segments (saccades anywhere over the screen, slow drifts, random looks, views
with an image cut by the frame border, pitch excursions, pauses) before it holds the
gaze on a random image. Episodes alternate ``minimalUI`` false (HUD drawn) / true.

Ground truth, as for the fixtures (shared/fixtures/dmlab_harlow/README.md): DeepMind Lab
is deterministic for a seed, config and action sequence, so each episode's seed and
actions are replayed four times: ``repeat`` (same settings; every frame must be
bit-identical), ``black`` (24 all-black images), ``coded`` (image k a solid, saturated
colour, hues 45..320 degrees, no red) and ``nocross`` (real images, the fixation cross
drawn in the screen's black). Every replay must give the same rewards. Per pixel:
image where max over RGB of |coded - black| > 127, its id the episode's id whose coded
colour is nearest (after normalising by the largest channel); cross where max over RGB
of |real - nocross| > 127. Which image is at the SCREEN's left (x = 0.25) or right
(x = 0.75) comes from the trial's ``correctResponse`` (the level's trial records, while
the images of a finished trial are shown) and otherwise from the view: two visible
images are ordered by column, a lone one by the yaw of its pixels' mean column.

The ``.npz`` holds the fixtures' per-frame arrays (``frames``, ``actions``, ``rewards``,
``rot``, ``episode``, ``step``, ``minimal_ui``, ``trial``, ``cross_bbox``, ``cross_px``,
``left_bbox``, ``right_bbox``, ``left_px``, ``right_px``, ``left_id``, ``right_id``,
``*_touches_border``, ``labelmap``) plus per-episode arrays ``episode_seed``,
``episode_correct_id``, ``episode_incorrect_id``, ``episode_minimal_ui``,
``episode_terminated``; a ``.json`` beside it describes the episodes and the replays.
"""

from __future__ import annotations

import argparse
import colorsys
import json
import math
import shutil
import sys
import tempfile
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from harlow.psychlab.dmlab import temporary_directory_env

ACTION_SIZE = 7
DEGREES_PER_LOOK_UNIT = 0.1055
# Gaze at the screen's centre (the cross); image centres at about +-17.2 degrees of yaw
# (left image: larger yaw), each about 25.5 degrees wide.
CENTRE_YAW, CENTRE_PITCH = 90.07, -0.67
IMAGE_YAW = 17.2
NUM_IMAGES = 24
CODED_HUES = (45.0, 320.0)
DIFFERENCE = 127  # max over RGB of a difference above this: the object covers the pixel
MIN_VISIBLE_CROSS_PIXELS = 4  # as tests/test_preprocessing_fixtures.py
OBSERVATIONS = ["RGB_INTERLEAVED", "DEBUG.POS.ROT"]
NOCROSS_SETTING = "local kwargs = {schema = 'harlow', episodeLengthSeconds = 300}"


# ---------------------------------------------------------------- datasets


def coded_colours(count: int = NUM_IMAGES) -> np.ndarray:
    """[count, 3] uint8: solid, fully saturated colours, hues evenly 45..320 degrees."""
    hues = np.linspace(*CODED_HUES, count)
    return np.array(
        [[round(255 * c) for c in colorsys.hsv_to_rgb(h / 360, 1.0, 1.0)] for h in hues], np.uint8
    )


def generated_images(count: int, rng: np.random.Generator) -> list[np.ndarray]:
    """``count`` 256x256 RGB images of varied colours and textures (not faces)."""
    size = 256
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    kinds = ["stripes", "checks", "noise", "rings", "shapes", "gradient", "dark", "red"]
    images = []
    for index in range(count):
        kind = kinds[index % len(kinds)]
        a, b = (rng.integers(0, 256, 3) for _ in range(2))
        if kind == "stripes":
            angle = rng.uniform(0, np.pi)
            period = rng.uniform(12, 60)
            t = (np.sin((xx * np.cos(angle) + yy * np.sin(angle)) * 2 * np.pi / period) > 0)[
                ..., None
            ]
            image = np.where(t, a, b)
        elif kind == "checks":
            cell = int(rng.integers(16, 64))
            t = (((xx // cell) + (yy // cell)) % 2 == 0)[..., None]
            image = np.where(t, a, b)
        elif kind == "noise":
            small = rng.random((int(rng.integers(4, 16)),) * 2 + (3,)).astype(np.float32)
            image = cv2.resize(small, (size, size), interpolation=cv2.INTER_CUBIC) * 255
        elif kind == "rings":
            cx, cy = rng.uniform(60, 196, 2)
            r = np.hypot(xx - cx, yy - cy)
            t = (np.sin(r / rng.uniform(5, 20)) > 0)[..., None]
            image = np.where(t, a, b)
        elif kind == "shapes":
            image = np.empty((size, size, 3), np.uint8)
            image[:] = a
            for _ in range(int(rng.integers(3, 8))):
                colour = tuple(int(v) for v in rng.integers(0, 256, 3))
                centre = tuple(int(v) for v in rng.integers(30, 226, 2))
                if rng.random() < 0.5:
                    cv2.circle(image, centre, int(rng.integers(10, 60)), colour, -1)
                else:
                    half = rng.integers(10, 50, 2)
                    cv2.rectangle(
                        image,
                        tuple(np.subtract(centre, half)),
                        tuple(np.add(centre, half)),
                        colour,
                        -1,
                    )
        elif kind == "gradient":
            t = (xx / size)[..., None] if rng.random() < 0.5 else (yy / size)[..., None]
            image = a * (1 - t) + b * t
        elif kind == "dark":
            small = rng.random((8, 8, 3)).astype(np.float32)
            image = cv2.resize(small, (size, size), interpolation=cv2.INTER_CUBIC) * 40
            cv2.circle(image, (128, 128), 40, tuple(float(v) for v in rng.integers(60, 200, 3)), -1)
        else:  # red: a large red field with a pattern
            image = np.empty((size, size, 3), np.float32)
            image[:] = (rng.integers(180, 256), rng.integers(0, 40), rng.integers(0, 40))
            cv2.circle(image, (128, 128), int(rng.integers(30, 80)), (255, 220, 40), -1)
        images.append(np.clip(image, 0, 255).astype(np.uint8))
    return images


def write_dataset(folder: Path, seed: int, count: int = NUM_IMAGES) -> None:
    """Writes ``count`` images (half bundled faces chosen by ``seed``, half generated)."""
    from harlow.datasets import default_dataset_path, load_dataset

    rng = np.random.default_rng(seed)
    faces = load_dataset(default_dataset_path()).images
    chosen = [faces[i] for i in rng.choice(len(faces), count // 2, replace=False)]
    images = chosen + generated_images(count - len(chosen), rng)
    order = rng.permutation(len(images))
    folder.mkdir(parents=True, exist_ok=True)
    for number, index in enumerate(order, start=1):
        Image.fromarray(images[index], mode="RGB").save(folder / f"{number:04d}.png")


def write_solid_dataset(folder: Path, colours: np.ndarray) -> None:
    """One solid 256x256 image per colour, as ``0001.png``, ``0002.png``, ..."""
    folder.mkdir(parents=True, exist_ok=True)
    for number, colour in enumerate(colours, start=1):
        image = np.empty((256, 256, 3), np.uint8)
        image[:] = colour
        Image.fromarray(image, mode="RGB").save(folder / f"{number:04d}.png")


def nocross_level_script(level_script: Path, target: Path) -> Path:
    """A copy of the level script whose fixation cross has the screen's colour (black)."""
    text = level_script.read_text()
    if NOCROSS_SETTING not in text:
        raise ValueError(f"{level_script}: cannot find {NOCROSS_SETTING!r} to add fixationColor")
    replaced = NOCROSS_SETTING[:-1] + ", fixationColor = {0, 0, 0}}"
    target.write_text(text.replace(NOCROSS_SETTING, replaced))
    return target


# ---------------------------------------------------------------- controller


@dataclass
class _Segment:
    """A piece of the gaze's path: go to ``target`` (yaw, pitch offsets from the screen's
    centre, degrees) at up to ``speed`` look units per step and hold ``hold`` steps, or
    apply ``action`` (or random looks up to ``jitter``) for ``steps`` steps."""

    target: tuple[float, float] | None = None
    speed: float = 20.0
    hold: int = 0
    action: tuple[int, int] = (0, 0)
    jitter: int = 0
    steps: int = 0
    until_reward: bool = False
    arrived: bool = field(default=False)


class GazeController:
    """A scripted Harlow player driven by the view angles (pitch, yaw in degrees).

    ``act(rot, reward)`` takes ``DEBUG.POS.ROT`` and the reward of the previous step and
    returns the next [7] intc action. Phases follow the rewards: the cross until the
    fixation reward, the images until a choice reward, then a blank interval.
    """

    def __init__(self, rng: np.random.Generator, centre: tuple[float, float] | None = None) -> None:
        self.rng = rng
        self.centre_yaw, self.centre_pitch = centre or (CENTRE_YAW, CENTRE_PITCH)
        self.reset()

    def reset(self) -> None:
        self.phase = "fixation"
        self.plan: list[_Segment] = self._fixation_plan()
        self.blank_steps = 0

    def act(self, rot: Sequence[float], reward: float) -> np.ndarray:
        if reward >= 2 or reward <= -2:
            self.phase, self.blank_steps = "blank", 5
            self.plan = [_Segment(jitter=int(self.rng.integers(0, 6)), steps=5)]
        elif reward > 0:
            self.phase, self.plan = "images", self._images_plan()
        elif self.phase == "blank":
            self.blank_steps -= 1
            if self.blank_steps <= 0:
                self.phase, self.plan = "fixation", self._fixation_plan()
        yaw = float(rot[1]) - self.centre_yaw
        pitch = float(rot[0]) - self.centre_pitch
        look = self._next_look(yaw, pitch)
        action = np.zeros(ACTION_SIZE, np.intc)
        action[:2] = look
        return action

    def _next_look(self, yaw: float, pitch: float) -> tuple[int, int]:
        while self.plan:
            segment = self.plan[0]
            if segment.target is not None:
                dyaw, dpitch = segment.target[0] - yaw, segment.target[1] - pitch
                if not segment.arrived and max(abs(dyaw), abs(dpitch)) > 0.3:
                    # +x look decreases yaw, +y look increases pitch.
                    units = np.clip(
                        np.round(np.array([-dyaw, dpitch]) / DEGREES_PER_LOOK_UNIT),
                        -segment.speed,
                        segment.speed,
                    )
                    return int(units[0]), int(units[1])
                segment.arrived = True
                if segment.until_reward:
                    segment.hold -= 1
                    if segment.hold > 0:
                        return self._jitter(segment.jitter)
                    # No reward yet: choose again, or seek the cross again.
                    if self.phase == "images":
                        self.plan[0] = self._choice_segment()
                    else:
                        self.plan[0] = self._fixation_plan()[-1]
                    continue
                if segment.hold > 0:
                    segment.hold -= 1
                    return self._jitter(segment.jitter)
                self.plan.pop(0)
                continue
            if segment.steps > 0:
                segment.steps -= 1
                if segment.jitter:
                    return self._jitter(segment.jitter)
                return segment.action
            self.plan.pop(0)
        return (0, 0)

    def _jitter(self, scale: int) -> tuple[int, int]:
        if scale <= 0:
            return (0, 0)
        return tuple(int(v) for v in self.rng.integers(-scale, scale + 1, 2))

    def _fixation_plan(self) -> list[_Segment]:
        rng = self.rng
        plan = []
        if rng.random() < 0.3:
            plan.append(_Segment(jitter=int(rng.integers(5, 20)), steps=int(rng.integers(2, 8))))
        if rng.random() < 0.25:  # overshoot, then correct
            plan.append(_Segment(target=tuple(rng.uniform(-8, 8, 2)), speed=40.0))
        target = (float(rng.uniform(-1.0, 1.0)), float(rng.uniform(-1.0, 1.0)))
        plan.append(
            _Segment(target=target, speed=float(rng.integers(8, 41)), hold=40, until_reward=True)
        )
        return plan

    def _choice_segment(self) -> _Segment:
        rng = self.rng
        side = IMAGE_YAW if rng.random() < 0.5 else -IMAGE_YAW
        target = (side + float(rng.uniform(-4, 4)), float(rng.uniform(-3, 3)))
        return _Segment(
            target=target,
            speed=float(rng.integers(10, 41)),
            hold=30,
            until_reward=True,
            jitter=int(rng.random() < 0.3),
        )

    def _images_plan(self) -> list[_Segment]:
        rng = self.rng
        plan = []
        for _ in range(int(rng.integers(1, 6))):
            kind = rng.choice(
                ["saccade", "drift", "look", "border", "still", "pitch"],
                p=[0.3, 0.2, 0.15, 0.15, 0.1, 0.1],
            )
            if kind == "saccade":
                target = (float(rng.uniform(-38, 38)), float(rng.uniform(-8, 8)))
                plan.append(
                    _Segment(
                        target=target,
                        speed=float(rng.integers(10, 41)),
                        hold=int(rng.integers(0, 4)),
                        jitter=int(rng.integers(0, 3)),
                    )
                )
            elif kind == "drift":
                action = (int(rng.integers(-6, 7)), int(rng.integers(-3, 4)))
                plan.append(_Segment(action=action, steps=int(rng.integers(4, 16))))
            elif kind == "look":
                plan.append(
                    _Segment(jitter=int(rng.integers(4, 13)), steps=int(rng.integers(3, 9)))
                )
            elif kind == "border":
                side = 1 if rng.random() < 0.5 else -1
                target = (side * float(rng.uniform(28, 46)), float(rng.uniform(-6, 6)))
                plan.append(
                    _Segment(
                        target=target,
                        speed=float(rng.integers(10, 41)),
                        hold=int(rng.integers(2, 9)),
                        jitter=int(rng.integers(0, 3)),
                    )
                )
            elif kind == "still":
                plan.append(_Segment(steps=int(rng.integers(2, 7))))
            else:
                target = (
                    float(rng.uniform(-20, 20)),
                    float(rng.choice([-1, 1]) * rng.uniform(10, 30)),
                )
                plan.append(
                    _Segment(
                        target=target,
                        speed=float(rng.integers(10, 41)),
                        hold=int(rng.integers(0, 4)),
                    )
                )
        plan.append(self._choice_segment())
        return plan


# ---------------------------------------------------------------- ground truth


def image_id_map(
    coded: np.ndarray, black: np.ndarray, ids: Sequence[int], colours: np.ndarray
) -> np.ndarray:
    """[H, W] int32: the dataset id (one of ``ids``) of the image covering each pixel, 0
    where none does (max over RGB of |coded - black| <= 127)."""
    difference = np.abs(coded.astype(np.int16) - black.astype(np.int16)).max(axis=2)
    mask = difference > DIFFERENCE
    out = np.zeros(mask.shape, np.int32)
    if not mask.any():
        return out
    pixels = coded[mask].astype(np.float32)
    pixels /= np.maximum(pixels.max(axis=1, keepdims=True), 1.0)
    references = colours[np.asarray(ids) - 1].astype(np.float32)
    references /= references.max(axis=1, keepdims=True)
    distances = np.abs(pixels[:, None, :] - references[None]).sum(axis=2)
    out[mask] = np.asarray(ids, np.int32)[distances.argmin(axis=1)]
    return out


def cross_map(real: np.ndarray, nocross: np.ndarray) -> np.ndarray:
    """[H, W] bool: pixels the fixation cross covers (max over RGB of |real - nocross| > 127)."""
    return np.abs(real.astype(np.int16) - nocross.astype(np.int16)).max(axis=2) > DIFFERENCE


def sides_from_view(
    id_map: np.ndarray, yaw: float, centre_yaw: float = CENTRE_YAW
) -> dict[int, str]:
    """Which screen position ('left' or 'right') each visible id is at, from the view:
    two images are ordered by column; a lone one is left if its mean column looks at a
    yaw above the screen centre's (a 90 degree horizontal field of view)."""
    width = id_map.shape[1]
    columns = {}
    for image in np.unique(id_map[id_map > 0]).tolist():
        columns[image] = float(np.nonzero(id_map == image)[1].mean())
    if len(columns) == 2:
        first, second = sorted(columns, key=columns.get)
        return {first: "left", second: "right"}
    sides = {}
    for image, column in columns.items():
        offset = math.degrees(math.atan((column + 0.5 - width / 2) / (width / 2)))
        sides[image] = "left" if yaw - offset > centre_yaw else "right"
    return sides


def _box(mask: np.ndarray) -> tuple[list[int], int, bool]:
    """x0, y0, x1, y1 (inclusive; -1s if empty), pixel count, touches the frame border."""
    count = int(np.count_nonzero(mask))
    if not count:
        return [-1, -1, -1, -1], 0, False
    rows, cols = np.nonzero(mask.any(axis=1))[0], np.nonzero(mask.any(axis=0))[0]
    box = [int(cols[0]), int(rows[0]), int(cols[-1]), int(rows[-1])]
    height, width = mask.shape
    touches = box[0] == 0 or box[1] == 0 or box[2] == width - 1 or box[3] == height - 1
    return box, count, touches


def frame_labels(id_map: np.ndarray, cross: np.ndarray, sides: dict[int, str]) -> dict[str, object]:
    """The fixtures' per-frame labels from an id map, a cross mask and the ids' sides."""
    labels: dict[str, object] = {}
    labelmap = np.zeros(id_map.shape, np.uint8)
    labelmap[cross] = 1
    box, count, touches = _box(cross)
    labels.update(cross_bbox=box, cross_px=count, cross_touches_border=touches)
    for side, code in (("left", 2), ("right", 3)):
        ids = [image for image, where in sides.items() if where == side]
        mask = np.isin(id_map, ids) if ids else np.zeros(id_map.shape, bool)
        labelmap[mask] = code
        box, count, touches = _box(mask)
        labels.update(
            {
                f"{side}_bbox": box,
                f"{side}_px": count,
                f"{side}_touches_border": touches,
                f"{side}_id": ids[0] if ids else -1,
            }
        )
    labels["labelmap"] = labelmap
    return labels


# ---------------------------------------------------------------- recording


class _Lab:
    """One deepmind_lab.Lab with a private TMPDIR."""

    def __init__(self, module, level: Path, config: dict[str, str], tmp: Path) -> None:
        self.tmp = tmp
        tmp.mkdir(parents=True, exist_ok=True)
        with temporary_directory_env(tmp):
            self.lab = module.Lab(
                str(level), list(OBSERVATIONS), config=config, renderer="software"
            )
            # The first episode after the Lab is made renders differently (the frames of
            # later episodes repeat bit for bit): play a few steps of a throwaway one.
            self.lab.reset(seed=0)
        for _ in range(3):
            self.lab.step(np.zeros(ACTION_SIZE, np.intc))

    def reset(self, seed: int) -> tuple[np.ndarray, list]:
        with temporary_directory_env(self.tmp):
            self.lab.reset(seed=seed)
        return self.lab.observations()["DEBUG.POS.ROT"], self.lab.events()

    def step(self, action: np.ndarray):
        """(reward, frame or None at the end, rot or None, events)."""
        reward = float(self.lab.step(action))
        events = self.lab.events()
        if not self.lab.is_running():
            return reward, None, None, events
        observations = self.lab.observations()
        return reward, observations["RGB_INTERLEAVED"], observations["DEBUG.POS.ROT"], events

    def close(self) -> None:
        self.lab.close()


def _trial_records(events: list) -> list[dict[str, str]]:
    from harlow.psychlab.dmlab import TRIAL_EVENT, parse_trial_record

    return [
        parse_trial_record(str(values[0]))
        for name, values in events
        if name == TRIAL_EVENT and values
    ]


def _image_pair(events: list) -> tuple[int, int]:
    from harlow.psychlab.dmlab import IMAGE_PAIR_EVENT

    for name, values in events:
        if name == IMAGE_PAIR_EVENT:
            return int(values[0]), int(values[1])
    raise RuntimeError("the level did not publish the episode's image pair")


def record(
    out: Path,
    width: int,
    height: int,
    episodes: int,
    seed: int,
    dataset: Path,
    max_steps: int = 1500,
    module=None,
    centre: tuple[float, float] | None = None,
) -> dict:
    """Plays and labels ``episodes`` episodes; writes ``out`` (.npz) and ``out``.json."""
    from harlow.psychlab import dmlab

    if module is None:
        module = dmlab.import_deepmind_lab()
    if dmlab.tensorflow_loaded():
        raise RuntimeError(f"{dmlab.TENSORFLOW_CRASH}: record in a process without it")
    if not (dataset / "0001.png").is_file():
        write_dataset(dataset, seed)
    count = len(sorted(dataset.glob("[0-9][0-9][0-9][0-9].png")))
    colours = coded_colours(count)
    root = Path(tempfile.mkdtemp(prefix="harlow_record_"))
    rng = np.random.default_rng(seed)
    seeds = rng.integers(0, 2**31 - 1, episodes).tolist()
    arrays: dict[str, list] = {}
    meta = []
    try:
        write_solid_dataset(root / "black", np.zeros((count, 3), np.uint8))
        write_solid_dataset(root / "coded", colours)
        nocross = nocross_level_script(dmlab.LEVEL_SCRIPT, root / "harlow_nocross.lua")
        for minimal_ui in (False, True):

            def config(folder: Path, minimal_ui=minimal_ui) -> dict[str, str]:
                return dmlab.harlow_lab_config(
                    dataset_dir=folder,
                    num_images=count,
                    width=width,
                    height=height,
                    minimal_ui=minimal_ui,
                    level=dmlab.HarlowLevelSettings(),
                )

            labs = {}
            try:
                for name, level, folder in (
                    ("real", dmlab.LEVEL_SCRIPT, dataset),
                    ("black", dmlab.LEVEL_SCRIPT, root / "black"),
                    ("coded", dmlab.LEVEL_SCRIPT, root / "coded"),
                    ("nocross", nocross, dataset),
                ):
                    labs[name] = _Lab(
                        module, level, config(folder), root / f"tmp_{name}_{minimal_ui}"
                    )
                for episode in range(int(minimal_ui), episodes, 2):
                    result = _record_episode(labs, seeds[episode], colours, max_steps, rng, centre)
                    result["meta"].update(episode=episode, minimal_ui=minimal_ui)
                    n = result["meta"]["n_frames"]
                    result["arrays"]["episode"] = np.full(n, episode, np.int32)
                    result["arrays"]["minimal_ui"] = np.full(n, minimal_ui, bool)
                    meta.append(result["meta"])
                    for key, values in result["arrays"].items():
                        arrays.setdefault(key, []).append((episode, values))
                    print(f"episode {episode}: {result['meta']['summary']}", flush=True)
            finally:
                for lab in labs.values():
                    lab.close()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    meta.sort(key=lambda m: m["episode"])
    stacked = {}
    for key, items in arrays.items():
        items.sort(key=lambda item: item[0])
        stacked[key] = np.concatenate([values for _, values in items])
    stacked.update(
        episode_seed=np.array([m["seed"] for m in meta], np.int64),
        episode_correct_id=np.array([m["correct_id"] for m in meta], np.int32),
        episode_incorrect_id=np.array([m["incorrect_id"] for m in meta], np.int32),
        episode_minimal_ui=np.array([m["minimal_ui"] for m in meta], bool),
        episode_terminated=np.array([m["terminated"] for m in meta], bool),
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out, **stacked)
    summary = {
        "width": width,
        "height": height,
        "seed": seed,
        "dataset": str(dataset),
        "frames": int(len(stacked["frames"])),
        "episodes": meta,
    }
    out.with_suffix(".json").write_text(json.dumps(summary, indent=1, default=str))
    return summary


def _record_episode(labs, seed, colours, max_steps, rng, centre) -> dict:
    real = labs["real"]
    controller = GazeController(np.random.default_rng(rng.integers(2**32)), centre)
    rot, events = real.reset(seed)
    correct_id, incorrect_id = _image_pair(events)
    actions, rewards, frames, rots, records = [], [], [], [], []
    reward, final_reward, terminated = 0.0, None, False
    for _ in range(max_steps):
        action = controller.act(rot, reward)
        reward, frame, rot, events = real.step(action)
        records += _trial_records(events)
        actions.append(action)
        if frame is None:
            final_reward, terminated = reward, True
            break
        rewards.append(reward)
        frames.append(frame)
        rots.append(rot)
    # Replays: the same seed and actions on every Lab (the real one again: 'repeat').
    replay_rewards = {name: [] for name in labs}
    bit_exact = True
    per_frame = []
    starts = {name: lab.reset(seed) for name, lab in labs.items()}
    for name, (_, events) in starts.items():
        if _image_pair(events) != (correct_id, incorrect_id):
            raise RuntimeError(f"replay {name}: another image pair")
    for t, action in enumerate(actions):
        outputs = {name: lab.step(action) for name, lab in labs.items()}
        for name, output in outputs.items():
            replay_rewards[name].append(output[0])
        if outputs["real"][1] is None:
            break
        bit_exact &= bool(np.array_equal(outputs["real"][1], frames[t]))
        id_map = image_id_map(
            outputs["coded"][1], outputs["black"][1], (correct_id, incorrect_id), colours
        )
        cross = cross_map(frames[t], outputs["nocross"][1])
        per_frame.append((id_map, cross))
    original = rewards + ([final_reward] if terminated else [])
    for name, values in replay_rewards.items():
        if values != original:
            raise RuntimeError(f"replay {name} of seed {seed} gave other rewards")
    if not bit_exact:
        raise RuntimeError(f"the repeat replay of seed {seed} is not bit-identical")
    # Trial number per frame: the fixation reward comes one step after the images appear.
    rewards_array = np.array(rewards, np.float32)
    fixation = (rewards_array > 0) & (rewards_array < 2)
    if terminated:
        fixation = np.append(fixation, False)
    trial_of_frame = np.cumsum(np.append(fixation[1:], False)).astype(np.int32)[: len(frames)]
    labels_list, mismatches = [], 0
    for t, (id_map, cross) in enumerate(per_frame):
        sides = sides_from_view(id_map, float(rots[t][1]), centre[0] if centre else CENTRE_YAW)
        k = int(trial_of_frame[t])
        if 1 <= k <= len(records) and "correctResponse" in records[k - 1]:
            left_is_correct = int(float(records[k - 1]["correctResponse"])) == 1
            truth = {
                correct_id: "left" if left_is_correct else "right",
                incorrect_id: "right" if left_is_correct else "left",
            }
            known = {image: truth[image] for image in sides}
            mismatches += known != sides
            sides = known
        labels_list.append(frame_labels(id_map, cross, sides))
    n = len(frames)
    arrays = {
        "frames": np.array(frames, np.uint8),
        "actions": np.array(actions[:n], np.int32),
        "rewards": rewards_array,
        "rot": np.array(rots, np.float32).reshape(n, 3),
        "step": np.arange(n, dtype=np.int32),
        "trial": trial_of_frame,
    }
    for key in labels_list[0]:
        dtype = {"labelmap": np.uint8}.get(key, bool if key.endswith("border") else np.int32)
        arrays[key] = np.array([labels[key] for labels in labels_list], dtype)
    both = int(((arrays["left_id"] >= 0) & (arrays["right_id"] >= 0)).sum())
    meta = {
        "seed": int(seed),
        "correct_id": correct_id,
        "incorrect_id": incorrect_id,
        "n_frames": n,
        "terminated": terminated,
        "final_reward": final_reward,
        "trials": records,
        "bit_exact_replay": bit_exact,
        "side_view_mismatches": mismatches,
        "summary": f"{n} frames, {len(records)} trials, {both} with both images, "
        f"{mismatches} side mismatches",
    }
    return {"arrays": arrays, "meta": meta}


# ---------------------------------------------------------------- measuring


def measure(path: Path, verbose: bool = False) -> dict:
    """The pipeline's accuracy on a recording: cross found / falsely reported, both ids
    right (frames with both images in view), ids per episode."""
    from preprocessing.pipeline import VisionPipeline

    with np.load(path) as recording:
        frames = recording["frames"]
        labels = {k: recording[k] for k in ("episode", "cross_px", "left_id", "right_id")}
    pipeline = VisionPipeline()
    ours = np.empty((len(frames), 2), int)
    cross_found = np.empty(len(frames), bool)
    located = np.empty((len(frames), 2), bool)
    episodes = labels["episode"]
    for index, frame in enumerate(frames):
        if index == 0 or episodes[index] != episodes[index - 1]:
            pipeline.reset()
        result = pipeline.process(frame)
        ours[index] = result.left_id, result.right_id
        cross_found[index] = result.detection.cross is not None
        located[index] = result.detection.left is not None, result.detection.right is not None
    truth = np.stack([labels["left_id"], labels["right_id"]], axis=1)
    agree = episode_agreement(episodes, ours, truth)
    both = (truth >= 0).all(axis=1)
    visible = labels["cross_px"] >= MIN_VISIBLE_CROSS_PIXELS
    hidden = labels["cross_px"] == 0
    ids_per_episode = [len(set(ours[episodes == e].ravel()) - {-1}) for e in np.unique(episodes)]
    result = {
        "file": str(path),
        "frames": len(frames),
        "both_in_view": int(both.sum()),
        "both_right": int(agree[both].sum()),
        "both_right_rate": float(agree[both].mean()) if both.any() else float("nan"),
        "both_located": int(located[both].all(axis=1).sum()),
        "cross_visible": int(visible.sum()),
        "cross_found": int(cross_found[visible].sum()),
        "cross_hidden": int(hidden.sum()),
        "cross_false": int(cross_found[hidden].sum()),
        "max_ids_per_episode": max(ids_per_episode),
    }
    if verbose:
        wrong = np.flatnonzero(both & ~agree)
        result["wrong_frames"] = wrong.tolist()
        result["ours"], result["truth"], result["located"] = ours, truth, located
    return result


def episode_agreement(episodes: np.ndarray, ours: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Per frame: both ids agree with the truth, each of our ids mapped per episode to the
    dataset id it co-occurs with most (as tests/test_preprocessing_fixtures.py)."""
    agree = np.zeros(len(ours), bool)
    for episode in np.unique(episodes):
        rows = episodes == episode
        pairs = Counter(
            (a, t)
            for a, t in zip(ours[rows].ravel(), truth[rows].ravel(), strict=True)
            if a >= 0 and t >= 0
        )
        mapping: dict[int, int] = {}
        for (a, t), _ in pairs.most_common():
            mapping.setdefault(a, t)
        lookup = np.vectorize(mapping.get, otypes=[int])
        mapped = lookup(ours[rows], -2)
        agree[rows] = (mapped == truth[rows]).all(axis=1)
    return agree


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path)
    parser.add_argument("--width", type=int, default=84)
    parser.add_argument("--height", type=int, default=84)
    parser.add_argument("--episodes", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dataset", type=Path)
    parser.add_argument("--max_steps", type=int, default=1500)
    parser.add_argument("--measure", nargs="+", type=Path, help="recordings to measure instead")
    args = parser.parse_args(argv)
    if args.measure:
        totals = Counter()
        for path in args.measure:
            result = measure(path)
            print(json.dumps(result))
            totals.update(
                {
                    k: v
                    for k, v in result.items()
                    if k
                    in (
                        "both_in_view",
                        "both_right",
                        "cross_visible",
                        "cross_found",
                        "cross_hidden",
                        "cross_false",
                        "frames",
                    )
                }
            )
            totals["max_ids"] = max(totals["max_ids"], result["max_ids_per_episode"])
        totals["both_right_rate"] = totals["both_right"] / max(totals["both_in_view"], 1)
        print("pooled:", json.dumps(dict(totals)))
        return 0
    if args.out is None or args.dataset is None:
        parser.error("--out and --dataset are needed to record")
    record(
        args.out, args.width, args.height, args.episodes, args.seed, args.dataset, args.max_steps
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
