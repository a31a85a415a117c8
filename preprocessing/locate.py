"""Finding the screen, the red fixation cross and the two image regions in an RGB frame.

Method (sizes are fractions of the screen's height, so any frame size works):

1. Screen: pixels whose three channels are all ``<= black_max`` are black (the
   screen's background is pure black; the room, the bezel and the darkest dataset
   images are not). The black region with the largest outline is the screen; its
   convex hull is the visible part of the screen, with its holes (cross, images)
   and the parts of them cut by the frame border.
2. Parts: the non-black pixels inside the hull form components. Those reaching the
   hull's edge (its outline, not the frame border) are mostly slivers and bands of
   the bezel that the hull takes in; the others are the screen's contents.
3. Cross: among the parts off the edge, the one with the most pure-red pixels (red
   ``>= red_min``, green and blue ``<= red_other_max``), provided red hue makes most of
   it (red content of an image is a share of the image's component), they do not fill
   its box (a plus fills about a third of it; a red image fills all) and it is small
   next to the screen's height at its column (0.1 for the cross, 0.4 for an image).
4. Images: parts at least ``min_image_height`` of the screen's height at their column,
   centred within ``max_image_offset`` of the screen's middle row (images sit at rows
   0.3..0.7), grouped by overlapping columns. A part on the edge counts only if it is
   image-sized, not thin, fills its box, and has the screen's black just above and
   below it (an image whose margin to the bezel is too thin to see at a slant), or
   belongs to something mostly on the screen (an image a HUD element touches).
   Smaller parts off the edge inside that band and in a group's columns join it
   (dark content, such as a black horse, splits an image into pieces).
5. Left or right: two groups are ordered by x (the view has no roll). A lone group is
   decided from the screen beside it: the side with room for another image holds the
   other image; without such room the other image is out of view, on the side where
   the screen runs past the frame border; failing both, the side of the screen's middle.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import NamedTuple

import cv2
import numpy as np

from preprocessing.patches import Box

# Screen beside a lone image, in image widths, that means the other image is there:
# 1.375 (gap 0.1, image 0.4, margin 0.05 of the screen) when seen head-on;
# perspective can shrink the far side to about half of that.
_ROOM_FOR_OTHER_IMAGE = 0.6
# The hull's edge: the pixels that eroding by 2 removes (not along the frame border).
_EDGE_KERNEL = np.ones((5, 5), np.uint8)
# A part on the hull's edge is an image only if at least _MIN_EDGE_IMAGE_HEIGHT of the
# screen's height at its column tall (images are 0.4), _MIN_IMAGE_ASPECT of its height
# wide (a square image seen at 70 degrees is about 0.35), fills _MIN_IMAGE_FILL of its
# box (a band of the bezel fills little) and, unless it is mostly on the screen as a
# whole, has the screen's black above and below it in _BLACK_AROUND_IMAGE of its columns.
_MIN_EDGE_IMAGE_HEIGHT = 0.3
_MIN_IMAGE_ASPECT = 0.25
_MIN_IMAGE_FILL = 0.4
_BLACK_AROUND_IMAGE = 0.5
# Smallest area of such an image per squared height of the screen's tallest column:
# 0.4 of a column at least half the tallest high, 0.35 of that wide.
_MIN_EDGE_IMAGE_AREA = 0.2 * 0.2 * 0.35
# A part at least this many times as wide as high may be both images joined by a HUD
# element across the gap between them (two images and their gap: about 2.25), split
# where its columns hold at most _GAP_SHARE of its median column.
_MIN_TWO_IMAGE_ASPECT = 1.4
_GAP_SHARE = 0.35
# Image parts sharing less than this share of the narrower one's columns are two images.
_MIN_COLUMN_OVERLAP = 0.2
# How far (in heights of an image's main part) a small part may reach beyond it.
_SMALL_PART_REACH = 0.5


@dataclass(frozen=True)
class LocatorConfig:
    """Thresholds of :func:`locate`; the defaults fit DeepMind Lab and the simulator."""

    black_max: int = 2
    red_min: int = 64
    red_other_max: int = 8
    min_cross_pixels: int = 3
    min_cross_redness: float = 0.5
    max_cross_fill: float = 0.8
    max_cross_height: float = 0.25
    min_inside_screen: float = 0.5
    min_image_height: float = 0.2
    max_image_offset: float = 0.25
    min_screen_fraction: float = 0.01

    def __post_init__(self) -> None:
        for name in ("black_max", "red_min", "red_other_max"):
            value = getattr(self, name)
            if not 0 <= value <= 255:
                raise ValueError(f"LocatorConfig.{name} must be in [0, 255], got {value}")
        if self.red_other_max >= self.red_min:
            raise ValueError(
                f"LocatorConfig.red_other_max ({self.red_other_max}) must be below "
                f"red_min ({self.red_min})"
            )
        if self.min_cross_pixels < 1:
            raise ValueError(
                f"LocatorConfig.min_cross_pixels must be >= 1, got {self.min_cross_pixels}"
            )
        for name in (
            "min_cross_redness",
            "max_cross_fill",
            "max_cross_height",
            "min_inside_screen",
            "min_image_height",
            "max_image_offset",
            "min_screen_fraction",
        ):
            value = getattr(self, name)
            if not 0.0 < value <= 1.0:
                raise ValueError(f"LocatorConfig.{name} must be in (0, 1], got {value}")


DEFAULT_CONFIG = LocatorConfig()


@dataclass(frozen=True)
class Detection:
    """What :func:`locate` found in one frame (``None`` where nothing was found).

    ``left`` and ``right`` are the SCREEN's left (x = 0.25) and right (x = 0.75)
    images, not the frame's halves; ``*_touches_border`` tells that the image is cut
    by the frame border (partly out of view). ``cross_center`` is ``(x, y)`` in pixels.
    """

    cross: Box | None
    cross_center: tuple[float, float] | None
    left: Box | None
    right: Box | None
    screen: Box | None
    left_touches_border: bool = False
    right_touches_border: bool = False


NOTHING_FOUND = Detection(cross=None, cross_center=None, left=None, right=None, screen=None)


def validate_frame(frame: np.ndarray) -> None:
    """Raises ``ValueError`` unless ``frame`` is an HxWx3 uint8 array of at least 8x8."""
    if not isinstance(frame, np.ndarray) or frame.ndim != 3 or frame.shape[2] != 3:
        shape = getattr(frame, "shape", type(frame).__name__)
        raise ValueError(f"frame must be an HxWx3 RGB array, got shape {shape}")
    if frame.dtype != np.uint8:
        raise ValueError(f"frame must be uint8, got {frame.dtype}")
    if frame.shape[0] < 8 or frame.shape[1] < 8:
        raise ValueError(f"frame is too small to search: {frame.shape[1]}x{frame.shape[0]}")


def locate(frame: np.ndarray, config: LocatorConfig = DEFAULT_CONFIG) -> Detection:
    """Finds the screen, the fixation cross and the screen's left/right images.

    ``frame`` is an HxWx3 uint8 RGB frame of either backend, of any size.
    """
    validate_frame(frame)
    frame = np.ascontiguousarray(frame)
    height, width = frame.shape[:2]
    black = cv2.inRange(frame, (0, 0, 0), (config.black_max,) * 3)
    hull = _screen_hull(black, config.min_screen_fraction * height * width)
    if hull is None:
        return NOTHING_FOUND
    screen = np.zeros((height, width), np.uint8)
    cv2.fillConvexPoly(screen, hull, 1)  # 1, not 255: its column sums are the heights
    heights = cv2.reduce(screen, 0, cv2.REDUCE_SUM, dtype=cv2.CV_32S)[0].tolist()
    tallest = max(heights)
    screen_box = Box(*cv2.boundingRect(hull))
    parts = _parts_on_screen(
        black, screen, screen_box, config.min_cross_pixels, _MIN_EDGE_IMAGE_AREA * tallest**2
    )

    cross = cross_center = None
    found = _find_cross(frame, parts, heights, config)
    if found is not None:
        cross_part, bars = found
        parts.remove(cross_part)
        cross = Box(*cross_part.box)
        cross_center = _bar_crossing(bars, cross_part.box)
    whole = _WholeComponents(black, config.min_inside_screen)
    left, right = _find_images(parts, black, whole, screen, heights, tallest, config)
    return Detection(
        cross=cross,
        cross_center=cross_center,
        left=left,
        right=right,
        screen=screen_box,
        left_touches_border=left is not None and _touches_border(left, height, width),
        right_touches_border=right is not None and _touches_border(right, height, width),
    )


def _screen_hull(black: np.ndarray, min_area: float) -> np.ndarray | None:
    """Convex hull of the black region with the largest outline, if it is big enough."""
    contours, _ = cv2.findContours(black, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    outlines = [contour for contour in contours if len(contour) > 2]  # 1-2 points: no area
    if not outlines:
        return None
    outline = max(outlines, key=cv2.contourArea)
    if cv2.contourArea(outline) < min_area:
        return None
    return cv2.convexHull(outline)


class _Part(NamedTuple):
    """A component of non-black pixels inside the screen's hull."""

    box: tuple[int, int, int, int]
    area: int
    mask: np.ndarray  # bool, the component's pixels within ``box``
    at_edge: bool  # it reaches the hull's edge (not counting the frame border)


def _parts_on_screen(
    black: np.ndarray, screen: np.ndarray, box: Box, min_area: int, min_edge_area: float
) -> list[_Part]:
    """Components of non-black pixels inside the screen's hull: those of at least
    ``min_area`` pixels, or ``min_edge_area`` if they reach the hull's edge.

    Only the hull's bounding ``box`` grown by the edge's width is searched.
    """
    margin = _EDGE_KERNEL.shape[0] // 2
    x0, y0 = max(box.x - margin, 0), max(box.y - margin, 0)
    x1 = min(box.x + box.width + margin, black.shape[1])
    y1 = min(box.y + box.height + margin, black.shape[0])
    inside = screen[y0:y1, x0:x1]
    content = cv2.subtract(inside, black[y0:y1, x0:x1])
    count, labels = cv2.connectedComponents(content, connectivity=8)
    # The hull's edge: eroding leaves the frame border alone (it is not the screen's edge).
    edge = cv2.subtract(inside, cv2.erode(inside, _EDGE_KERNEL))
    # One pass counts, per label, its pixels off and on the hull's edge (the screen's mask
    # holds 0 or 1, so the edge does too).
    if count <= 128:  # codes fit in a byte: a histogram of them is quicker
        code = labels.astype(np.uint8)
        code += code
        code |= edge
        histogram = cv2.calcHist([code], [0], None, [2 * count], [0, 2 * count])
        counts = histogram.ravel().astype(np.int64).tolist()
    else:
        code = labels * 2
        code += edge
        counts = np.bincount(code.ravel(), minlength=2 * count).tolist()
    parts = []
    # Label 0: the black pixels and what is off the screen.
    for label, off_edge, on_edge in zip(range(1, count), counts[2::2], counts[3::2], strict=True):
        area = off_edge + on_edge
        if area < min_area or (on_edge and area < min_edge_area):
            continue
        component = labels == label
        x, y, w, h = cv2.boundingRect(component.view(np.uint8))
        mask = component[y : y + h, x : x + w]
        parts.append(_Part((x + x0, y + y0, w, h), area, mask, on_edge > 0))
    return parts


def _find_cross(
    frame: np.ndarray, parts: list[_Part], heights: list[int], config: LocatorConfig
) -> tuple[_Part, np.ndarray] | None:
    """The part that looks most like the fixation cross, with its red pixels (a uint8
    mask of its box, 1 where red), if any."""
    best = None
    most_red = 0
    other = config.red_other_max
    for part in parts:
        x, y, w, h = part.box
        if part.at_edge or max(w, h) > config.max_cross_height * heights[x + w // 2]:
            continue
        pixels = frame[y : y + h, x : x + w]
        mask = part.mask.view(np.uint8)  # 0 or 1
        bright = cv2.inRange(pixels, (config.red_min, 0, 0), (255, other, other))
        bars = cv2.bitwise_and(bright, mask)  # 0 or 1
        red_count = cv2.countNonZero(bars)
        if red_count < config.min_cross_pixels or red_count > config.max_cross_fill * w * h:
            continue
        # Redness counts the dim edge pixels too (the cross blended with the black).
        hue = cv2.inRange(pixels, (config.black_max + 1, 0, 0), (255, other, other))
        redness = cv2.countNonZero(cv2.bitwise_and(hue, mask)) / part.area
        if redness >= config.min_cross_redness and red_count > most_red:
            best, most_red = (part, bars), red_count
    return best


def _bar_crossing(bars: np.ndarray, box: tuple[int, int, int, int]) -> tuple[float, float]:
    """Where the cross's bars meet: the middle of its fullest columns and fullest rows.

    Unlike the centroid, this stays on the centre when an arm is cut by the frame border.
    """
    columns = bars.sum(axis=0).tolist()
    rows = bars.sum(axis=1).tolist()
    return box[0] + _fullest_middle(columns), box[1] + _fullest_middle(rows)


def _fullest_middle(counts: list[int]) -> float:
    """The mean index of the largest ``counts``, plus 0.5 (the middle of the pixel)."""
    most = max(counts)
    fullest = [index for index, count in enumerate(counts) if count == most]
    return sum(fullest) / len(fullest) + 0.5


def _find_images(
    parts: list[_Part],
    black: np.ndarray,
    whole: _WholeComponents,
    screen: np.ndarray,
    heights: list[int],
    tallest: int,
    config: LocatorConfig,
) -> tuple[Box | None, Box | None]:
    """The screen's (left, right) image boxes among the parts on the screen (``heights``:
    the screen's height in each column, ``tallest`` their maximum)."""
    frame_height = screen.shape[0]
    min_height = config.min_image_height / 2 * tallest
    band = config.max_image_offset
    image_parts, small_parts = [], []
    pieces = [piece for whole_part in parts for piece in _split_at_gap(whole_part, min_height)]
    for part in pieces:
        x, y, w, h = part.box
        centre_column = x + w // 2
        screen_height = heights[centre_column]
        top = int(screen[:, centre_column].argmax())
        screen_cut = top == 0 or top + screen_height == frame_height
        # A part reaching the frame's top or bottom row is cut there: its middle is not
        # its image's (and the hull, missing the screen's black beyond it, is short there).
        part_cut = y <= 1 or y + h >= frame_height - 1
        band_top = top + (0.5 - band) * screen_height
        band_bottom = top + (0.5 + band) * screen_height
        if h >= min_height and h >= config.min_image_height * screen_height:
            centred = screen_cut or part_cut or band_top <= y + h / 2 <= band_bottom
            if centred and (
                not part.at_edge
                or _edge_part_is_image(part, black, whole, max(screen_height, tallest // 2))
            ):
                image_parts.append(part)
        elif not part.at_edge and not screen_cut and band_top <= y and y + h <= band_bottom:
            small_parts.append(part)
    groups = _group_by_columns(image_parts)
    if not groups:
        return None, None
    if len(groups) > 2:
        largest_two = sorted(groups, key=lambda group: group[1])[-2:]
        groups = sorted(largest_two, key=lambda group: group[0].x)
    boxes = [_add_overlapping(box, small_parts) for box, _ in groups]
    if len(boxes) == 2:
        return boxes[0], boxes[1]
    if _is_left_image(boxes[0], heights):
        return boxes[0], None
    return None, boxes[0]


def _split_at_gap(part: _Part, min_height: float) -> list[_Part]:
    """Splits a part that holds both images, joined by a HUD element drawn across the gap
    between them, at that gap; returns ``[part]`` if it is not such a part.

    Such a part is off the hull's edge, image-high, at least ``_MIN_TWO_IMAGE_ASPECT``
    times as wide as high (one image, even cut by the frame border, is about square or
    narrower) and fills its box like images; the gap is the run of columns, within the
    middle half of the part, holding at most ``_GAP_SHARE`` of the part's median column.
    """
    x, y, w, h = part.box
    if (
        part.at_edge
        or h < min_height
        or w < _MIN_TWO_IMAGE_ASPECT * h
        or part.area < _MIN_IMAGE_FILL * w * h
    ):
        return [part]
    columns = np.count_nonzero(part.mask, axis=0)
    low = columns <= _GAP_SHARE * float(np.median(columns))
    start, stop = w // 4, w - w // 4
    middle = np.flatnonzero(low[start:stop])
    if not len(middle):
        return [part]
    gap = start + int(middle[np.argmin(columns[start + middle])])
    first, last = gap, gap
    while first > 0 and low[first - 1]:
        first -= 1
    while last < w - 1 and low[last + 1]:
        last += 1
    pieces = []
    for begin, end in ((0, first), (last + 1, w)):
        mask = part.mask[:, begin:end]
        if not mask.any():
            return [part]
        rows = np.flatnonzero(mask.any(axis=1))
        cols = np.flatnonzero(mask.any(axis=0))
        piece = mask[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
        box = (x + begin + int(cols[0]), y + int(rows[0]), piece.shape[1], piece.shape[0])
        pieces.append(_Part(box, int(np.count_nonzero(piece)), piece, False))
    return pieces


def _edge_part_is_image(
    part: _Part, black: np.ndarray, whole: _WholeComponents, screen_height: int
) -> bool:
    """Whether a part reaching the hull's edge is an image rather than a sliver or band
    of the bezel: about an image's size (next to ``screen_height``), not thin, filling
    its box, and either with the screen's black both just above and just below it (an
    image whose margin to the bezel is too narrow to see, or one that a HUD element
    crosses) or mostly on the screen as a whole (an image that a HUD element touches)."""
    w, h = part.box[2:]
    if (
        h < _MIN_EDGE_IMAGE_HEIGHT * screen_height
        or w < _MIN_IMAGE_ASPECT * h
        or part.area < _MIN_IMAGE_FILL * w * h
    ):
        return False
    return _black_above_and_below(black, part) or whole.mostly_on_screen(part)


def _black_above_and_below(black: np.ndarray, part: _Part) -> bool:
    """Whether, in most of a part's columns, the pixels just above its top and just below
    its bottom in that column are the screen's black (outside the frame counts as not)."""
    x, y = part.box[:2]
    mask = part.mask
    columns = np.flatnonzero(mask.any(axis=0))
    above = y + mask.argmax(axis=0)[columns] - 1
    below = y + mask.shape[0] - mask[::-1].argmax(axis=0)[columns]
    in_frame = (above >= 0) & (below < black.shape[0])
    columns, above, below = x + columns[in_frame], above[in_frame], below[in_frame]
    black_above = np.count_nonzero(black[above, columns])
    black_below = np.count_nonzero(black[below, columns])
    return min(black_above, black_below) >= _BLACK_AROUND_IMAGE * len(in_frame)


class _WholeComponents:
    """Non-black components of the whole frame (labelled on first need), to tell whether
    a part reaching the hull's edge belongs to something mostly off the screen (the room,
    the bezel) or mostly on it (an image that a HUD element touches)."""

    def __init__(self, black: np.ndarray, min_on_screen: float) -> None:
        self.black = black
        self.min_on_screen = min_on_screen
        self.labels: np.ndarray | None = None

    def mostly_on_screen(self, part: _Part) -> bool:
        """Whether ``part`` holds at least ``min_on_screen`` of its whole component."""
        if self.labels is None:
            _, self.labels = cv2.connectedComponents(cv2.bitwise_not(self.black), connectivity=8)
        x, y = part.box[:2]
        row, column = np.argwhere(part.mask)[0]
        whole = np.count_nonzero(self.labels == self.labels[y + row, x + column])
        return part.area >= self.min_on_screen * whole


def _group_by_columns(parts: list[_Part]) -> list[tuple[Box, int]]:
    """Merges parts whose column ranges overlap; returns (box, pixel count) ordered by x.

    Parts that share less than ``_MIN_COLUMN_OVERLAP`` of the narrower one's columns stay
    apart: the two images, one of them grown by a HUD element drawn across the gap.
    """
    groups: list[tuple[Box, int]] = []
    for part in sorted(parts, key=lambda part: part.box[0]):
        box = Box(*part.box)
        overlap = (groups[-1][0].x + groups[-1][0].width - box.x) if groups else 0
        if overlap > 0 and overlap >= _MIN_COLUMN_OVERLAP * min(box.width, groups[-1][0].width):
            last, area = groups.pop()
            groups.append((_union(last, box), area + part.area))
        else:
            groups.append((box, part.area))
    return groups


def _add_overlapping(box: Box, small_parts: list[_Part]) -> Box:
    """Grows an image's box by the small parts in its columns and near its rows: parts of
    the image that dark content (such as a black horse) cuts off from its main part."""
    reach = _SMALL_PART_REACH * box.height
    grown = box
    for part in small_parts:
        x, y, w, h = part.box
        if (
            x < box.x + box.width
            and box.x < x + w
            and box.y - reach <= y
            and y + h <= box.y + box.height + reach
        ):
            grown = _union(grown, Box(x, y, w, h))
    return grown


def _union(a: Box, b: Box) -> Box:
    x0, y0 = min(a.x, b.x), min(a.y, b.y)
    x1, y1 = max(a.x + a.width, b.x + b.width), max(a.y + a.height, b.y + b.height)
    return Box(x0, y0, x1 - x0, y1 - y0)


def _is_left_image(image: Box, heights: list[int]) -> bool:
    """Decides which image a lone visible image is, from the screen beside it."""
    width = len(heights)
    screen_columns = np.flatnonzero(heights)
    screen_x0, screen_x1 = int(screen_columns[0]), int(screen_columns[-1]) + 1
    image_x1 = image.x + image.width
    room_left = image.x - screen_x0 >= _ROOM_FOR_OTHER_IMAGE * image.width
    room_right = screen_x1 - image_x1 >= _ROOM_FOR_OTHER_IMAGE * image.width
    if room_left != room_right:
        return room_right
    cut_left = screen_x0 == 0 or image.x == 0
    cut_right = screen_x1 == width or image_x1 == width
    if cut_left != cut_right:
        return cut_right
    return image.x + image.width / 2 < (screen_x0 + screen_x1) / 2


def _touches_border(box: Box, height: int, width: int) -> bool:
    return box.x == 0 or box.y == 0 or box.x + box.width == width or box.y + box.height == height


class StreamLocator:
    """:func:`locate` for a batch of frame streams (one per environment), each remembering
    the frames it located last: a frame equal to one of them keeps its detection without
    a search.

    ``locate`` depends on nothing but the frame, so the detections are those of
    :func:`locate` on every frame. Under the saccade wrapper a view often holds still on
    an unchanging screen, giving the same frame again (about half of the frames), or
    comes back to one seen a few frames before (a fifth of the others). Each stream keeps
    up to ``memory`` frames (fewer for large frames: at most ``MEMORY_BYTES`` in all), the
    most recently seen.
    """

    MEMORY_BYTES = 32 << 20

    def __init__(
        self, num_streams: int, config: LocatorConfig = DEFAULT_CONFIG, memory: int = 16
    ) -> None:
        if num_streams < 1:
            raise ValueError(f"num_streams must be >= 1, got {num_streams}")
        if memory < 1:
            raise ValueError(f"memory must be >= 1, got {memory}")
        self.num_streams = num_streams
        self.config = config
        self.memory = memory
        # Per stream: frame fingerprint -> (frame, detection), least recently seen first.
        self._seen: list[OrderedDict[int, tuple[np.ndarray, Detection]]] = [
            OrderedDict() for _ in range(num_streams)
        ]

    def locate(
        self, frames: np.ndarray, needed: np.ndarray | None = None
    ) -> list[Detection | None]:
        """The detections of ``frames`` [N, H, W, 3], one per stream; ``None`` for the
        streams that ``needed`` (bool [N], default all) leaves out."""
        if frames.ndim != 4 or len(frames) != self.num_streams or frames.dtype != np.uint8:
            raise ValueError(
                f"frames must be [{self.num_streams}, H, W, 3] uint8, got shape {frames.shape} "
                f"{frames.dtype}"
            )
        count = self.num_streams
        needed = np.ones(count, bool) if needed is None else np.asarray(needed, bool)
        keep = max(1, min(self.memory, self.MEMORY_BYTES // max(frames[0].nbytes * count, 1)))
        words = np.ascontiguousarray(frames).reshape(count, -1)
        if words.shape[1] % 8 == 0:
            words = words.view(np.uint64)
        # A fingerprint to look frames up by (equal frames have equal sums; the frames found
        # are compared in full).
        fingerprints = words.sum(axis=1, dtype=np.uint64).tolist()
        detections: list[Detection | None] = [None] * count
        for stream in np.flatnonzero(needed).tolist():
            frame, fingerprint, seen = frames[stream], fingerprints[stream], self._seen[stream]
            known = seen.get(fingerprint)
            if known is not None and np.array_equal(known[0], frame):
                seen.move_to_end(fingerprint)
                detections[stream] = known[1]
                continue
            detection = locate(frame, self.config)
            seen[fingerprint] = (frame.copy(), detection)
            seen.move_to_end(fingerprint)
            while len(seen) > keep:
                seen.popitem(last=False)
            detections[stream] = detection
        return detections
