"""Image identities: the same image keeps its id across views, a new image gets a new id.

An image region is described on a small RGB thumbnail of it (so the frame size
hardly matters) by:

- its colours: a 6x6x6 RGB histogram of its non-black pixels, normalised to sum 1
  (the screen's black, seen in the corners of a region under perspective, is left
  out). It ignores where things are, so shifts, scale changes, perspective and blur
  move it little;
- its layout: the grayscale thumbnail area-resampled to 8x8, in [0, 1], which tells
  apart images with the same colours in different places.

The distance between two descriptions is half the L1 distance of the histograms
(0 = same colours, 1 = no colour in common) plus the mean absolute difference of the
layouts: both parts are stored pre-weighted in one vector, so it is the L1 distance
of the vectors. Each image keeps up to ``MAX_VIEWS_PER_IMAGE`` whole views that
looked new when matched (perspective changes a view more than anything else), and
a region matches an image when its nearest stored view is closer than ``threshold``.
On DeepMind Lab's 84x84 recording (18 images) dataset-scope ids map one-to-one to
the true images for thresholds 0.45..0.6 (0.4 splits images, 0.7 merges some);
the default 0.5 sits in that band, and the fixture tests check it.

A region cut by the frame border shows only part of its image. It is compared with
the same part of each known image's stored views (for a range of visible fractions
around the one its aspect ratio suggests) and gets the closest image's id when that
is within ``threshold`` and clearly closer than any other image; otherwise it is
``UNKNOWN``. A new image is only registered from a whole view, so a cut view never
creates a spurious id.

Per episode, ids are capped at ``images_per_episode`` (2 in the Harlow task). Once
the episode holds that many images, a whole view that matches none of them (a view
seen from an unusual angle while the gaze moves, a box that took in some of the
screen's surroundings) is one of them, not a new image: it gets the closest image
not named elsewhere in the frame when that is the only one left (two regions of one
frame are two different images) or ``PARTIAL_MARGIN`` times closer than the
runner-up, and is otherwise ``UNKNOWN``. A region still ``UNKNOWN`` (such a view, or
a sliver cut by the frame border) while the frame's other regions hold all the
episode's other images takes the one image left, by elimination. Views named this
way are not stored: only matches within ``threshold`` add views.

Matching is skipped for a region that still looks as it did when last matched (the
same region index in every frame since, thumbnails within ``SAME_AS_LAST_FRAME``):
it keeps its id (on the 84x84 recording about half of the regions skip matching).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import cv2
import numpy as np

from preprocessing.patches import Box, clip_box

UNKNOWN = -1
DEFAULT_THRESHOLD = 0.5
THUMBNAIL_SIZE = 16
LAYOUT_SIZE = 8
HISTOGRAM_BINS = 6
BLACK_MAX = 2
MAX_VIEWS_PER_IMAGE = 4
# A matched whole view farther than this share of the threshold is stored as a new view.
NOVEL_VIEW = 0.5
# Mean absolute thumbnail difference (in [0, 1]) under which a region is taken to show
# the same image as when it was last matched (views of one image in consecutive frames
# differ by 0.05 at the median; two different images by 0.12 or more at 84x84).
SAME_AS_LAST_FRAME = 0.06
# A cut view matches only if the runner-up image is at least this much farther away.
PARTIAL_MARGIN = 1.5
# A cut view showing less than this share of its image (estimated) stays unknown.
MIN_VISIBLE_FRACTION = 0.15
# Visible fractions tried for a cut view, relative to the one its aspect ratio
# suggests: perspective near the frame border stretches the visible part sideways,
# so the estimate runs high more often than low.
_FRACTION_BELOW, _FRACTION_ABOVE = 0.5, 0.15

_COLOURS = HISTOGRAM_BINS**3
assert BLACK_MAX < 256 // HISTOGRAM_BINS, "black must fall in the darkest histogram bin"
Side = Literal["left", "right", "top", "bottom"]
Scope = Literal["episode", "dataset"]


def thumbnail(pixels: np.ndarray) -> np.ndarray:
    """Resamples an RGB region to ``THUMBNAIL_SIZE`` x ``THUMBNAIL_SIZE``."""
    if pixels.ndim != 3 or pixels.shape[2] != 3 or pixels.dtype != np.uint8:
        raise ValueError(f"region must be an HxWx3 uint8 array, got {pixels.shape} {pixels.dtype}")
    if pixels.shape[0] == 0 or pixels.shape[1] == 0:
        raise ValueError(f"region is empty: {pixels.shape[1]}x{pixels.shape[0]}")
    return _resize(pixels, THUMBNAIL_SIZE, THUMBNAIL_SIZE)


def describe(pixels: np.ndarray) -> np.ndarray:
    """The descriptor of an RGB region (thumbnail-sized): float32, first the colour
    histogram times 0.5, then the layout divided by its ``LAYOUT_SIZE**2`` values."""
    pixels = np.ascontiguousarray(pixels)
    histogram = cv2.calcHist([pixels], [0, 1, 2], None, [HISTOGRAM_BINS] * 3, [0, 256] * 3)
    histogram = histogram.ravel()
    black = cv2.countNonZero(cv2.inRange(pixels, (0, 0, 0), (BLACK_MAX,) * 3))
    histogram[0] -= black  # black pixels all fall in the darkest bin: leave them out
    descriptor = np.empty(_COLOURS + LAYOUT_SIZE**2, np.float32)
    scale = 0.5 / max(pixels.shape[0] * pixels.shape[1] - black, 1)
    np.multiply(histogram, scale, out=descriptor[:_COLOURS])
    _layout(pixels, descriptor[_COLOURS:])
    return descriptor


def _same_look(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether two thumbnails differ by at most ``SAME_AS_LAST_FRAME`` on average."""
    return cv2.norm(a, b, cv2.NORM_L1) <= SAME_AS_LAST_FRAME * 255 * a.size


def distance(a: np.ndarray, b: np.ndarray) -> float:
    """Half the L1 distance of the colour histograms plus the mean layout difference."""
    return float(np.abs(a - b).sum())


def cut_sides(box: Box, frame_height: int, frame_width: int) -> list[Side]:
    """The sides of ``box`` that the frame border cuts."""
    sides: list[Side] = []
    if box.x <= 0:
        sides.append("left")
    if box.x + box.width >= frame_width:
        sides.append("right")
    if box.y <= 0:
        sides.append("top")
    if box.y + box.height >= frame_height:
        sides.append("bottom")
    return sides


def _not_black(pixels: np.ndarray) -> np.ndarray:
    return cv2.bitwise_not(cv2.inRange(pixels, (0, 0, 0), (BLACK_MAX,) * 3))


_LAYOUT_WEIGHT = np.float32(1 / (255 * LAYOUT_SIZE**2))


def _layout(pixels: np.ndarray, out: np.ndarray) -> None:
    """Writes to ``out`` the grayscale at ``LAYOUT_SIZE`` x ``LAYOUT_SIZE``, each value
    weighted so the values' L1 distance is the mean absolute difference in [0, 1] units."""
    gray = cv2.cvtColor(pixels, cv2.COLOR_RGB2GRAY).astype(np.float32)
    np.multiply(_resize(gray, LAYOUT_SIZE, LAYOUT_SIZE).ravel(), _LAYOUT_WEIGHT, out=out)


def _resize(pixels: np.ndarray, width: int, height: int) -> np.ndarray:
    """Area resampling when shrinking (it averages), linear when enlarging."""
    shrinking = pixels.shape[0] >= height and pixels.shape[1] >= width
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    return cv2.resize(pixels, (width, height), interpolation=interpolation)


# Per-pixel histogram bin of a thumbnail: a lookup table per channel, then one index.
_CHANNEL_BIN = (np.arange(256) * HISTOGRAM_BINS // 256).astype(np.uint8)
_BIN_WEIGHTS = np.array([[HISTOGRAM_BINS**2, HISTOGRAM_BINS, 1]], dtype=np.float32)
_COLUMN_INDEX = np.tile(np.arange(THUMBNAIL_SIZE, dtype=np.uint8), (THUMBNAIL_SIZE, 1))
_ROW_INDEX = np.ascontiguousarray(_COLUMN_INDEX.T)


def _resampling(size_from: int, size_to: int) -> np.ndarray:
    """[size_from, size_to] weights with which :func:`_resize` resamples one axis
    (resizing is separable: a layout is ``rows.T @ image @ columns``)."""
    return _resize(np.eye(size_from, dtype=np.float32), size_to, size_from)


def _part_resamplings(side: Side) -> np.ndarray:
    """[kept - 1, THUMBNAIL_SIZE, LAYOUT_SIZE]: resampling of the thumbnail's columns
    (rows for a top or bottom cut) to the layout, for each kept width; zero for the cut ones."""
    weights = np.zeros((THUMBNAIL_SIZE, THUMBNAIL_SIZE, LAYOUT_SIZE), dtype=np.float32)
    for kept in range(1, THUMBNAIL_SIZE + 1):
        resampling = _resampling(kept, LAYOUT_SIZE)
        if side in ("left", "top"):
            weights[kept - 1, THUMBNAIL_SIZE - kept :] = resampling
        else:
            weights[kept - 1, :kept] = resampling
    return weights


_WHOLE_RESAMPLING = _resampling(THUMBNAIL_SIZE, LAYOUT_SIZE)
_PART_RESAMPLINGS = {side: _part_resamplings(side) for side in ("left", "right", "top", "bottom")}
# Running sums of the per-line histograms as one product (exact: the counts are small
# integers): row ``k - 1`` adds the first ``k`` lines, or the last ``k`` when what is kept
# is the far end (a left or top cut).
_FIRST_LINES = np.tril(np.ones((THUMBNAIL_SIZE, THUMBNAIL_SIZE), np.float32))
_KEPT_LINES = {
    "left": np.ascontiguousarray(_FIRST_LINES[:, ::-1]),
    "top": np.ascontiguousarray(_FIRST_LINES[:, ::-1]),
    "right": _FIRST_LINES,
    "bottom": _FIRST_LINES,
}


def _describe_parts(thumb: np.ndarray, side: Side) -> np.ndarray:
    """Descriptors of ``thumb`` cut on ``side`` to 1..THUMBNAIL_SIZE pixels (row
    ``k - 1`` for ``k`` kept): the histograms summed from one per column (or row), the
    layouts by the resampling weights of each kept width."""
    bins = cv2.transform(cv2.LUT(thumb, _CHANNEL_BIN), _BIN_WEIGHTS)
    across_columns = side in ("left", "right")
    per_line = cv2.calcHist(
        [bins, _COLUMN_INDEX if across_columns else _ROW_INDEX],
        [0, 1],
        _not_black(thumb),
        [_COLOURS, THUMBNAIL_SIZE],
        [0, _COLOURS, 0, THUMBNAIL_SIZE],
    ).T  # [column or row, colour]
    histograms = _KEPT_LINES[side] @ per_line
    described = np.empty((THUMBNAIL_SIZE, _COLOURS + LAYOUT_SIZE**2), np.float32)
    np.multiply(
        histograms,
        0.5 / np.maximum(histograms.sum(axis=1, keepdims=True), 1.0),
        out=described[:, :_COLOURS],
    )
    gray = cv2.cvtColor(thumb, cv2.COLOR_RGB2GRAY).astype(np.float32)
    parts = _PART_RESAMPLINGS[side]
    if across_columns:
        layouts = np.matmul(_WHOLE_RESAMPLING.T @ gray, parts)
    else:
        layouts = np.matmul(parts.transpose(0, 2, 1), gray @ _WHOLE_RESAMPLING)
    np.multiply(
        layouts.reshape(THUMBNAIL_SIZE, LAYOUT_SIZE**2), _LAYOUT_WEIGHT, out=described[:, _COLOURS:]
    )
    return described


@dataclass
class _StoredView:
    """A whole view of a known image; its cut parts are described on first need."""

    image: int
    thumb: np.ndarray
    aspect: float  # width / height of the view's region
    descriptor: np.ndarray
    parts: dict[Side, np.ndarray] = field(default_factory=dict)

    def described_parts(self, side: Side) -> np.ndarray:
        if side not in self.parts:
            self.parts[side] = _describe_parts(self.thumb, side)
        return self.parts[side]


class _Table:
    """The known images' stored whole views (grouped by image), stacked for comparison."""

    def __init__(self) -> None:
        self.count = 0  # number of images
        self.views: list[_StoredView] = []
        self._restack()

    def add_image(self, thumb: np.ndarray, aspect: float, descriptor: np.ndarray) -> int:
        """Registers a new image from a whole view; returns its id."""
        self.count += 1
        self.add_view(self.count - 1, thumb, aspect, descriptor)
        return self.count - 1

    def add_view(
        self, image: int, thumb: np.ndarray, aspect: float, descriptor: np.ndarray
    ) -> None:
        """Stores another whole view of ``image`` (up to ``MAX_VIEWS_PER_IMAGE``)."""
        owners = [view.image for view in self.views]
        if owners.count(image) >= MAX_VIEWS_PER_IMAGE:
            return
        position = int(np.searchsorted(owners, image, side="right"))
        self.views.insert(position, _StoredView(image, thumb, aspect, descriptor))
        self._restack()

    def _restack(self) -> None:
        self.descriptors = np.array([view.descriptor for view in self.views], dtype=np.float32)
        owners = [view.image for view in self.views]
        self.first_views = np.searchsorted(owners, np.arange(self.count))
        self._parts: dict[Side, np.ndarray] = {}

    def distances(self, descriptor: np.ndarray) -> np.ndarray:
        """Per image: distance from a whole view to its closest stored view."""
        differences = self.descriptors - descriptor
        per_view = np.abs(differences, out=differences).sum(axis=1)
        return np.minimum.reduceat(per_view, self.first_views)

    def partial_distances(self, descriptor: np.ndarray, side: Side, across: float) -> np.ndarray:
        """Per image: distance from a view cut on ``side`` to the same part of its closest
        stored view, over the visible fractions allowed by ``across`` (the cut view's
        extent across the cut divided by its extent along it)."""
        ranges = []  # per stored view: the kept widths [first, last] to try
        for view in self.views:
            full_across = view.aspect if side in ("left", "right") else 1.0 / view.aspect
            estimate = across / full_across
            if estimate < MIN_VISIBLE_FRACTION:
                ranges.append((THUMBNAIL_SIZE + 1, 0))  # nothing to try
                continue
            # Fractions above 1 (a cut view wider than whole views were) mean all of it.
            low = min(max(estimate * (1 - _FRACTION_BELOW), MIN_VISIBLE_FRACTION), 1.0)
            high = min(estimate * (1 + _FRACTION_ABOVE), 1.0)
            first = max(round(low * THUMBNAIL_SIZE), 1)
            ranges.append((first, max(round(high * THUMBNAIL_SIZE), first)))
        start, stop = min(first for first, _ in ranges), max(last for _, last in ranges)
        if start > stop:
            return np.full(self.count, np.inf)
        kept = np.arange(start, stop + 1)
        bounds = np.array(ranges)
        allowed = (kept >= bounds[:, :1]) & (kept <= bounds[:, 1:])
        parts = self._stacked_parts(side)[:, start - 1 : stop]
        differences = parts - descriptor
        per_part = np.abs(differences, out=differences).sum(axis=2)
        per_view = np.where(allowed, per_part, np.inf).min(axis=1)
        return np.minimum.reduceat(per_view, self.first_views)

    def _stacked_parts(self, side: Side) -> np.ndarray:
        """[view, kept - 1, descriptor] for every stored view cut on ``side``."""
        if side not in self._parts:
            self._parts[side] = np.stack([view.described_parts(side) for view in self.views])
        return self._parts[side]


class ImageIdentities:
    """Hands out image ids: 0 for the first image seen, 1 for the next new one, ...

    ``scope="episode"``: :meth:`reset` forgets all images (ids are per episode and
    work on never-seen images). ``scope="dataset"``: the table persists across
    :meth:`reset` (ids are per dataset); :meth:`clear` empties it.
    ``images_per_episode`` (episode scope only; 2 in the Harlow task, ``None`` for no
    limit) caps the episode's ids: once that many images are known, a region that
    matches none of them takes the closest one if that is clear, or the one not named
    elsewhere in the frame, and otherwise stays ``UNKNOWN``; it never opens another id.
    """

    def __init__(
        self,
        scope: Scope = "episode",
        threshold: float = DEFAULT_THRESHOLD,
        images_per_episode: int | None = 2,
    ) -> None:
        if scope not in ("episode", "dataset"):
            raise ValueError(f"scope must be 'episode' or 'dataset', got {scope!r}")
        if not 0.0 < threshold < 2.0:
            raise ValueError(f"threshold must be in (0, 2), got {threshold}")
        if images_per_episode is not None and images_per_episode < 1:
            raise ValueError(f"images_per_episode must be >= 1, got {images_per_episode}")
        self.scope = scope
        self.threshold = threshold
        self.images_per_episode = images_per_episode
        self._table = _Table()
        # Per region index: (cut sides, thumbnail, id) of the region when last matched.
        self._last: dict[int, tuple] = {}

    def __len__(self) -> int:
        """Number of images known."""
        return self._table.count

    def reset(self) -> None:
        """Starts a new episode: forgets the images unless the scope is the dataset."""
        if self.scope == "episode":
            self.clear()

    def clear(self) -> None:
        """Forgets every image."""
        self._table = _Table()
        self._last = {}

    def assign(self, frame: np.ndarray, boxes: Sequence[Box | None]) -> list[int]:
        """Ids for the image regions ``boxes`` of one RGB frame (``UNKNOWN`` for ``None``).

        Regions of one frame get different ids. A whole region with no known image
        within ``threshold`` becomes a new image while the episode has room for one
        (``images_per_episode``), else it takes a known image's id or ``UNKNOWN``; a
        region cut by the frame border gets a known image's id or ``UNKNOWN``. A region
        that still looks as it did when it was last matched (same index in ``boxes`` in
        every frame since, same cut sides, thumbnails within ``SAME_AS_LAST_FRAME``)
        keeps its id without being matched again.
        """
        frame_height, frame_width = frame.shape[:2]
        table = self._table
        ids = [UNKNOWN] * len(boxes)
        whole: dict[int, tuple[np.ndarray, float, np.ndarray]] = {}
        nearest: dict[int, np.ndarray] = {}  # per whole region: distance to each known image
        pairs = []  # (distance, region index, image)
        last, self._last = self._last, {}
        matched: dict[int, tuple[list[Side], np.ndarray]] = {}
        for index, box in enumerate(boxes):
            clipped = None if box is None else clip_box(box, frame_height, frame_width)
            if clipped is None:
                continue
            pixels = frame[
                clipped.y : clipped.y + clipped.height, clipped.x : clipped.x + clipped.width
            ]
            sides = cut_sides(clipped, frame_height, frame_width)
            thumb = thumbnail(pixels)
            seen = last.get(index)
            if seen is not None and seen[0] == sides and _same_look(seen[1], thumb):
                ids[index] = seen[2]
                self._last[index] = seen  # keep comparing with the matched view
                continue
            if not sides:
                descriptor = describe(thumb)
                whole[index] = (thumb, clipped.width / clipped.height, descriptor)
                if table.count:
                    nearest[index] = table.distances(descriptor)
                    pairs += [
                        (d, index, i)
                        for i, d in enumerate(nearest[index].tolist())
                        if d < self.threshold
                    ]
            elif len(sides) == 1 and table.count:
                pairs += self._partial_match(index, pixels, sides[0])
            matched[index] = (sides, thumb)

        taken = set(ids) - {UNKNOWN}
        for d, index, image in sorted(pairs):
            if ids[index] == UNKNOWN and image not in taken:
                ids[index] = image
                taken.add(image)
                if index in whole and d > NOVEL_VIEW * self.threshold:
                    table.add_view(image, *whole[index])
        for index, view in whole.items():
            if ids[index] == UNKNOWN and not self._full():
                ids[index] = table.add_image(*view)
        if UNKNOWN in ids and self._full():
            self._take_closest(ids, {i: d for i, d in nearest.items() if ids[i] == UNKNOWN})
            self._eliminate(ids, boxes)
        for index, (sides, thumb) in matched.items():
            if ids[index] != UNKNOWN:  # only known ids are carried to the next frame
                self._last[index] = (sides, thumb, ids[index])
        return ids

    def _full(self) -> bool:
        """Whether the episode already holds all its images (``images_per_episode``)."""
        return self.scope == "episode" and self._table.count == self.images_per_episode

    def _take_closest(self, ids: list[int], nearest: dict[int, np.ndarray]) -> None:
        """Gives whole regions that match no image (``nearest``: their distances to the
        images known before this frame) the closest image not named in the frame, when
        it is the only one left or ``PARTIAL_MARGIN`` times closer than the runner-up.

        The most confident region picks first. Only called once the episode holds all
        its images, so such a region is one of them seen from an unusual angle.
        """
        for index in sorted(nearest, key=lambda i: nearest[i].min()):
            distances = nearest[index]
            free = sorted(
                (d, image) for image, d in enumerate(distances.tolist()) if image not in ids
            )
            if not free:
                continue
            runner_up = free[1][0] if len(free) > 1 else np.inf
            if runner_up >= PARTIAL_MARGIN * free[0][0]:
                ids[index] = free[0][1]

    def _eliminate(self, ids: list[int], boxes: Sequence[Box | None]) -> None:
        """Names a lone unrecognised region by elimination, when that is certain.

        Once the episode holds all its images (``images_per_episode``: two in the
        Harlow task), a region left ``UNKNOWN`` (a sliver cut by the frame border, or
        a whole view too unlike both images to choose) while the others hold ids must
        be the one image not yet named.
        """
        if UNKNOWN not in ids:
            return
        unknown = [i for i, box in enumerate(boxes) if box is not None and ids[i] == UNKNOWN]
        remaining = set(range(self._table.count)) - set(ids)
        if len(unknown) == 1 and len(remaining) == 1:
            ids[unknown[0]] = remaining.pop()

    def _partial_match(
        self, index: int, pixels: np.ndarray, side: Side
    ) -> list[tuple[float, int, int]]:
        """The closest known image for a cut view, if close and unambiguous."""
        height, width = pixels.shape[:2]
        across = width / height if side in ("left", "right") else height / width
        kept = min(max(round(across * THUMBNAIL_SIZE), 1), THUMBNAIL_SIZE)
        shape = (kept, THUMBNAIL_SIZE) if side in ("left", "right") else (THUMBNAIL_SIZE, kept)
        distances = self._table.partial_distances(describe(_resize(pixels, *shape)), side, across)
        best = int(np.argmin(distances))
        runner_up = np.partition(distances, 1)[1] if len(distances) > 1 else np.inf
        if distances[best] < self.threshold and runner_up >= PARTIAL_MARGIN * distances[best]:
            return [(float(distances[best]), index, best)]
        return []
