"""Camera geometry and first-person frames of the Psychlab screen in its room.

World frame (units: the eye-to-screen distance): origin at the eye, X right along the screen,
Y down, Z from the eye towards the screen. The screen is the square of side
``SCREEN_WIDTH_OVER_DISTANCE`` on the plane Z = 1, its centre ``SCREEN_CENTRE_ELEVATION_DEG`` above
eye level and straight ahead at yaw 0 (DeepMind Lab yaw 90). Both numbers were fitted to the cross
and image positions of the fixture recordings (3,253 labelled frames, residual 0.18 px at 84 px).

View angles, in degrees: ``yaw`` is positive to the right (DeepMind Lab yaw 90 - yaw), ``pitch``
positive looking down (DeepMind Lab pitch). The horizontal field of view is 90 degrees
(f = W/2 pixels), pixels are square. During the first steps of an episode DeepMind Lab's camera
settles upward (``CAMERA_SETTLE_EYE_DROPS``, one of two profiles per episode); the gaze used by
the level does not follow it. Frames of steps 4..26 also show the engine's spawn ring below eye
level, and every frame the renderer's black cracks along the bezel (``SPAWN_RING_*``,
``BEZEL_CRACK_WIDTH_PX``).

Frames are drawn in two passes: the room (walls, the screen's bezel and its black face) comes from
an equirectangular panorama through cached per-pitch remap tables, shifted for the yaw; the screen
contents (cross or images) are warped on top with one homography, inside their bounding box only.
``ScreenRenderer`` reuses frames instead of drawing them again where a view repeats one of its
recent ones (the saccade wrapper holds views still and comes back to them), and the room where
only the screen's contents changed.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from functools import lru_cache

import cv2
import numpy as np

from harlow.psychlab.protocol import (
    FIXATION_BOX,
    LEFT_IMAGE_BOX,
    RIGHT_IMAGE_BOX,
    SCREEN_FIXATION,
    SCREEN_IMAGES,
    SCREEN_TEXELS,
    fixation_image,
)
from preprocessing.locate import LocatorConfig

SCREEN_WIDTH_OVER_DISTANCE = 1.2365
SCREEN_CENTRE_ELEVATION_DEG = 0.556
# The eye below its rest height in the frames of steps 0, 1, 2 of an episode (then at rest), one
# row per settle profile: 0 "high", 1 "low". Fitted to the cross in the first frames of the
# fixtures' 22 distinct episode starts (16 high, 6 low); see the simulator's docstring.
CAMERA_SETTLE_EYE_DROPS = ((0.1145, 0.0685, 0.0200), (0.0775, 0.0462, 0.0135))
# Every DeepMind Lab episode start also shows a ring around the eye (most likely Quake III's
# spawn effect, a cylinder model drawn for 500 ms around a player who spawns): a grey band at
# these depressions below eye level, all round (a level circle centred on the eye), with a
# bright lower rim, in front of everything. At rest it shows in the frames of steps
# ``SPAWN_RING_STEPS`` after the Lab's reset (gone from step 27 on, at every seed and frame
# size; during the settle it sweeps through the view and is not drawn here). Measured on the
# engine at 84, 160 and 256 pixels: edges at 21.1 and 23.6 degrees (+-0.2), band grey 32.
SPAWN_RING_DEPRESSION_DEG = (21.1, 23.6)
SPAWN_RING_STEPS = (4, 26)
SPAWN_RING_GREY, SPAWN_RING_RIM_GREY = 32, 128
# DeepMind Lab's software renderer leaves 1-pixel cracks of pure black (probably seams between
# polygons) along the bezel's inner side edges, from the dark (not black) strip above the screen's
# face up through the bezel's top bar: depending on the view's sub-pixel position a crack joins
# the face's black to the bar's top edge or breaks, so the black region a frame shows reaches 3-4
# pixels higher (at 84x84) in some views than in others. Drawn as seams of this width (pixels):
# a pixel is cleared where the seam passes within half of it from its centre. The width is an
# empirical choice, not a measurement: with it (and the bezel's measured grey levels), trial 1
# under SaccadeWrapper takes 15 frames in 94 of 192 episodes (seeds 0-5, 32 environments each;
# 0.35 gave 57 % and some later trials of 15 frames), as on the engine (joined cracks in 9 of 16
# of those views, 15 frames in 15 of 32 and in 9 of 16 first trials).
BEZEL_CRACK_WIDTH_PX = 0.28
_BEZEL_HALF = SCREEN_WIDTH_OVER_DISTANCE / 2
_BEZEL_STRIP, _BEZEL_BAR = 0.13, 0.1  # dark strip above the face, bezel bar above it
# Grey levels of the wall ahead, measured on DeepMind Lab frames (see ``_shade_front``).
_FRONT_GREYS = {
    "backdrop": 32,
    "tiers": 57,
    "tier_stripe": 190,
    "pole": 110,
    "top_bar": 121,
    "bottom_bar": 30,
    "face_edge": 53,
    "stand": 35,
}
_TIER_STRIPE_ROWS = (-0.2, 0.08, 0.53)  # bright rails of the tiers beside the screen
# The side bezel outward from the face: (from, to) beyond the face's edge, grey.
_SIDE_BEZEL_BANDS = (
    (0.0, 0.025, 53),
    (0.025, 0.1, 22),
    (0.1, 0.15, 121),
    (0.15, 0.1625, 32),
    (0.1625, 0.2375, 53),
)
MIN_FRAME_SIZE, MAX_FRAME_SIZE = 32, 512

LABEL_NONE, LABEL_CROSS, LABEL_LEFT_IMAGE, LABEL_RIGHT_IMAGE = 0, 1, 2, 3

# Screen-texel regions (x0, y0, x1, y1) warped as overlays; multiples of 16 so that every texture
# level (64..512 texels across the screen) cuts them on whole texels.
CROSS_REGION = (216, 216, 296, 296)
IMAGES_REGION = (16, 144, 496, 368)

_PITCH_BIN_DEG = 1.0
_MAX_PITCH_BIN = 89


def validate_frame_size(width: int, height: int) -> None:
    """Frames may be 32..512 pixels a side, any integer (DeepMind Lab wants multiples of 4)."""
    for name, value in (("width", width), ("height", height)):
        if not isinstance(value, (int, np.integer)) or not (
            MIN_FRAME_SIZE <= value <= MAX_FRAME_SIZE
        ):
            raise ValueError(
                f"frame {name} must be an integer in [{MIN_FRAME_SIZE}, {MAX_FRAME_SIZE}], "
                f"got {value!r}"
            )


def _screen_centre_height() -> float:
    return -math.tan(math.radians(SCREEN_CENTRE_ELEVATION_DEG))


def view_rotations(yaw_deg: np.ndarray, pitch_deg: np.ndarray) -> np.ndarray:
    """World-to-camera rotations [N, 3, 3]; camera rows are (right, down, forward)."""
    yaw = np.radians(np.asarray(yaw_deg, dtype=np.float64))
    pitch = np.radians(np.asarray(pitch_deg, dtype=np.float64))
    sy, cy, sp, cp = np.sin(yaw), np.cos(yaw), np.sin(pitch), np.cos(pitch)
    zero = np.zeros_like(yaw)
    right = np.stack([cy, zero, -sy], axis=-1)
    down = np.stack([-sp * sy, cp, -sp * cy], axis=-1)
    forward = np.stack([cp * sy, sp, cp * cy], axis=-1)
    return np.stack([right, down, forward], axis=-2)


def gaze_on_screen(yaw_deg: np.ndarray, pitch_deg: np.ndarray) -> np.ndarray:
    """Where the view's centre ray meets the screen, in texels [N, 2]; NaN when off the screen."""
    forward = view_rotations(yaw_deg, pitch_deg)[:, 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        x = forward[:, 0] / forward[:, 2]
        y = forward[:, 1] / forward[:, 2]
    scale = SCREEN_TEXELS / SCREEN_WIDTH_OVER_DISTANCE
    texels = np.stack(
        [x * scale + SCREEN_TEXELS / 2, (y - _screen_centre_height()) * scale + SCREEN_TEXELS / 2],
        axis=-1,
    )
    on_screen = (forward[:, 2] > 0) & np.all((texels >= 0) & (texels <= SCREEN_TEXELS), axis=-1)
    texels[~on_screen] = np.nan
    return texels


def screen_to_frame_homographies(
    yaw_deg: np.ndarray,
    pitch_deg: np.ndarray,
    eye_drop: np.ndarray,
    width: int,
    height: int,
) -> np.ndarray:
    """Homographies [N, 3, 3]: continuous screen texels (u, v, 1) -> frame pixel indices.

    Frame pixel (column c, row r) has its centre at index (c, r); texel coordinates run 0..512
    across the screen. ``eye_drop`` lowers the eye (units of the screen distance).
    """
    n = len(np.atleast_1d(yaw_deg))
    s = SCREEN_WIDTH_OVER_DISTANCE
    a = s / SCREEN_TEXELS
    plane = np.zeros((n, 3, 3))
    plane[:, 0, 0] = a
    plane[:, 0, 2] = -s / 2
    plane[:, 1, 1] = a
    plane[:, 1, 2] = -s / 2 + _screen_centre_height() - np.broadcast_to(eye_drop, (n,))
    plane[:, 2, 2] = 1.0
    focal = width / 2
    intrinsics = np.array(
        [[focal, 0.0, (width - 1) / 2], [0.0, focal, (height - 1) / 2], [0.0, 0.0, 1.0]]
    )
    return intrinsics @ view_rotations(yaw_deg, pitch_deg) @ plane


def label_map(
    yaw_deg: float,
    pitch_deg: float,
    eye_drop: float,
    width: int,
    height: int,
    screen_state: int,
) -> np.ndarray:
    """Per-pixel labels [H, W] uint8 of what the pixel centre sees: cross, left or right image.

    Matches the fixtures' labelmap convention (a pixel belongs to an object when it covers about
    half of it): 0 none, 1 cross, 2 image at the screen's left, 3 image at the screen's right.
    """
    homography = screen_to_frame_homographies(
        np.array([yaw_deg]), np.array([pitch_deg]), np.array([eye_drop]), width, height
    )[0]
    rows, cols = np.mgrid[0:height, 0:width]
    pixels = np.stack([cols.ravel(), rows.ravel(), np.ones(cols.size)]).astype(np.float64)
    to_screen = np.linalg.inv(homography)
    texel = to_screen @ pixels
    # The homogeneous scale is 1 / depth: rays meeting the screen plane behind the eye are < 0.
    in_front = texel[2] > 0
    u, v = texel[0] / texel[2], texel[1] / texel[2]
    labels = np.zeros(cols.size, dtype=np.uint8)

    def inside(box: tuple[int, int, int]) -> np.ndarray:
        x0, y0, side = box
        return in_front & (u >= x0) & (u < x0 + side) & (v >= y0) & (v < y0 + side)

    if screen_state == SCREEN_FIXATION:
        x0, y0, side = FIXATION_BOX
        cross = fixation_image()[:, :, 0] > 0
        hit = inside(FIXATION_BOX)
        labels[hit] = np.where(
            cross[(v[hit] - y0).astype(int), (u[hit] - x0).astype(int)], LABEL_CROSS, LABEL_NONE
        )
    elif screen_state == SCREEN_IMAGES:
        labels[inside(LEFT_IMAGE_BOX)] = LABEL_LEFT_IMAGE
        labels[inside(RIGHT_IMAGE_BOX)] = LABEL_RIGHT_IMAGE
    return labels.reshape(height, width)


_RING_SHIFT = 4  # fractional bits of the ring's polygon coordinates


def _ring_directions() -> np.ndarray:
    """Directions [3, 2K] of the ring's upper then lower edge, every 4 degrees round, from
    behind the eye (-180) through straight ahead (0): the points in front come in one run."""
    azimuth = np.radians(np.arange(-180.0, 180.0, 4.0))
    depression = np.radians(np.repeat(SPAWN_RING_DEPRESSION_DEG, len(azimuth)))
    azimuth = np.tile(azimuth, 2)
    return np.stack(
        [
            np.cos(depression) * np.sin(azimuth),
            np.sin(depression),
            np.cos(depression) * np.cos(azimuth),
        ]
    )


_RING_DIRECTIONS = _ring_directions()


def spawn_ring_points(
    yaw_deg: np.ndarray, pitch_deg: np.ndarray, width: int, height: int
) -> tuple[np.ndarray, np.ndarray]:
    """The spawn ring's upper and lower edges in frame pixels [N, 2, K, 2] (K azimuths all round)
    and which of their points lie far enough in front of the eye to be drawn [N, 2, K]."""
    # The ring is round the vertical through the eye: its azimuths are taken from the view's.
    camera = view_rotations(np.zeros_like(yaw_deg), pitch_deg) @ _RING_DIRECTIONS  # [N, 3, 2K]
    # Every pixel's ray is at least min_depth in front; half of it keeps the chords off-frame.
    min_depth = 1.0 / math.sqrt(2.0 + (height / width) ** 2)
    in_front = camera[:, 2] > 0.5 * min_depth
    scale = (width / 2) / np.where(in_front, camera[:, 2], 1.0)
    points = np.stack(
        [camera[:, 0] * scale + (width - 1) / 2, camera[:, 1] * scale + (height - 1) / 2], axis=-1
    )  # [N, 2K, 2]
    n = len(points)
    return points.reshape(n, 2, -1, 2), in_front.reshape(n, 2, -1)


def draw_spawn_ring(frame: np.ndarray, points: np.ndarray, in_front: np.ndarray) -> None:
    """Draws one view's spawn ring (``spawn_ring_points`` of that view) into ``frame``."""
    front = np.flatnonzero(in_front[0] & in_front[1])
    if len(front) < 2:
        return
    upper, lower = np.rint(points * (1 << _RING_SHIFT)).astype(np.int32)
    if len(front) == len(upper):  # looking steeply down: the whole ring, round the centre
        bands, rims, closed = [upper, lower], [lower], True
    else:  # the arc in front of the eye (consecutive azimuths round straight ahead)
        first, last = front[0], front[-1] + 1
        bands = [np.concatenate([upper[first:last], lower[first:last][::-1]])]
        rims, closed = [lower[first:last]], False
    cv2.fillPoly(frame, bands, (SPAWN_RING_GREY,) * 3, cv2.LINE_8, _RING_SHIFT)
    cv2.polylines(frame, rims, closed, (SPAWN_RING_RIM_GREY,) * 3, 1, cv2.LINE_8, _RING_SHIFT)


def _crack_ends() -> np.ndarray:
    """The cracks' ends [xyz, crack x end] on the screen's plane: from the bezel's top down
    into the black strip under it, along both inner side edges."""
    top = _screen_centre_height() - _BEZEL_HALF - _BEZEL_STRIP - _BEZEL_BAR
    bottom = _screen_centre_height() - _BEZEL_HALF - _BEZEL_STRIP / 2
    ends = [[x, y, 1.0] for x in (-_BEZEL_HALF, _BEZEL_HALF) for y in (top, bottom)]
    return np.array(ends).T


_CRACK_ENDS = _crack_ends()


def bezel_crack_pixels(
    yaw_deg: np.ndarray, pitch_deg: np.ndarray, eye_drop: np.ndarray, width: int, height: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Frame pixels the bezel's cracks clear: (view index, row, column) arrays, one per pixel."""
    n = len(yaw_deg)
    rotations = view_rotations(yaw_deg, pitch_deg)
    camera = rotations @ _CRACK_ENDS  # [n, xyz, crack x end], the eye at rest
    camera -= rotations[:, :, 1:2] * np.asarray(eye_drop, dtype=np.float64)[:, None, None]
    camera = camera.transpose(0, 2, 1).reshape(n, 2, 2, 3)  # [n, crack, end, xyz]
    in_front = (camera[..., 2] > 1e-3).all(axis=-1)  # [n, crack]
    depth = np.where(camera[..., 2] > 1e-3, camera[..., 2], 1.0)
    focal = width / 2
    x = focal * camera[..., 0] / depth + (width - 1) / 2  # [n, crack, end]
    y = focal * camera[..., 1] / depth + (height - 1) / 2
    rows_max = int(np.ceil((_BEZEL_BAR + _BEZEL_STRIP) * 2 * focal)) + 3
    first = np.ceil(y[..., 0])
    rows = first[..., None] + np.arange(rows_max)  # [n, crack, r]
    span = np.maximum(y[..., 1] - y[..., 0], 1e-9)[..., None]
    along = (rows - y[..., 0, None]) / span
    columns = x[..., 0, None] + along * (x[..., 1] - x[..., 0])[..., None]
    nearest = np.rint(columns)
    hit = (
        in_front[..., None]
        & (along <= 1.0)
        & (np.abs(columns - nearest) < BEZEL_CRACK_WIDTH_PX / 2)
        & (rows >= 0)
        & (rows < height)
        & (nearest >= 0)
        & (nearest < width)
    )
    view = np.broadcast_to(np.arange(n)[:, None, None], hit.shape)
    return view[hit], rows[hit].astype(np.int64), nearest[hit].astype(np.int64)


def texture_texels(width: int) -> int:
    """Texels across the screen at which overlays are sampled, like a mipmap level: the power of
    two (64..512) at or above the screen's on-frame width (about 0.62 W)."""
    on_frame = width / 2 * SCREEN_WIDTH_OVER_DISTANCE
    return int(min(SCREEN_TEXELS, max(64, 2 ** math.ceil(math.log2(on_frame)))))


def _region_to_texels(region: tuple[int, int, int, int], texels: int) -> np.ndarray:
    """Maps overlay texture indices (column, row, 1) at a texture level to screen texels."""
    step = SCREEN_TEXELS / texels
    return np.array(
        [[step, 0.0, region[0] + step / 2], [0.0, step, region[1] + step / 2], [0.0, 0.0, 1.0]]
    )


def _downsample(region_image: np.ndarray, texels: int) -> np.ndarray:
    if texels == SCREEN_TEXELS:
        return np.ascontiguousarray(region_image)
    factor = texels / SCREEN_TEXELS
    size = (round(region_image.shape[1] * factor), round(region_image.shape[0] * factor))
    return cv2.resize(region_image, size, interpolation=cv2.INTER_AREA)


@lru_cache(maxsize=8)
def cross_texture(texels: int) -> np.ndarray:
    """The fixation cross region of the screen at a texture level (read-only)."""
    x0, y0, x1, y1 = CROSS_REGION
    canvas = np.zeros((y1 - y0, x1 - x0, 3), dtype=np.uint8)
    bx, by, side = FIXATION_BOX
    canvas[by - y0 : by - y0 + side, bx - x0 : bx - x0 + side] = fixation_image()
    texture = _downsample(canvas, texels)
    texture.flags.writeable = False
    return texture


def scale_dataset_image(image: np.ndarray) -> np.ndarray:
    """A 256x256 dataset image scaled to its widget size on the screen (204 texels)."""
    side = LEFT_IMAGE_BOX[2]
    return cv2.resize(image, (side, side), interpolation=cv2.INTER_AREA)


def images_texture(left: np.ndarray, right: np.ndarray, texels: int) -> np.ndarray:
    """The screen band holding both images (already scaled to 204 texels) at a texture level."""
    x0, y0, x1, y1 = IMAGES_REGION
    canvas = np.zeros((y1 - y0, x1 - x0, 3), dtype=np.uint8)
    for image, (bx, by, side) in ((left, LEFT_IMAGE_BOX), (right, RIGHT_IMAGE_BOX)):
        canvas[by - y0 : by - y0 + side, bx - x0 : bx - x0 + side] = image
    return _downsample(canvas, texels)


# The images band's middle column (screen texels): each image lies wholly on its side of it.
_IMAGES_MIDDLE = (IMAGES_REGION[0] + IMAGES_REGION[2]) // 2
assert LEFT_IMAGE_BOX[0] + LEFT_IMAGE_BOX[2] <= _IMAGES_MIDDLE <= RIGHT_IMAGE_BOX[0]
assert (_IMAGES_MIDDLE - IMAGES_REGION[0]) % (SCREEN_TEXELS // 64) == 0  # on whole texels


def images_half_texture(image: np.ndarray, side: int, texels: int) -> np.ndarray:
    """One half of an ``images_texture``: the half of the band left (``side`` 0) or right (1)
    of its middle, holding ``image`` (scaled to 204 texels) as the image on that side.

    ``images_texture(left, right, texels)`` is ``np.concatenate([images_half_texture(left, 0,
    texels), images_half_texture(right, 1, texels)], axis=1)``: the middle falls between
    texels at every level (64..512), and area resampling by a whole factor averages each
    texel's own block of the band.
    """
    x0, y0, x1, y1 = IMAGES_REGION
    bx, by, size = LEFT_IMAGE_BOX if side == 0 else RIGHT_IMAGE_BOX
    start = x0 if side == 0 else _IMAGES_MIDDLE
    stop = _IMAGES_MIDDLE if side == 0 else x1
    canvas = np.zeros((y1 - y0, stop - start, 3), dtype=np.uint8)
    canvas[by - y0 : by - y0 + size, bx - start : bx - start + size] = image
    return _downsample(canvas, texels)


class RoomPanorama:
    """The room around the eye as an equirectangular image plus per-pitch remap tables.

    Columns are azimuth (-180..180 degrees, 0 straight at the screen), rows elevation (+90 at
    the top). A frame's background is one ``cv2.remap`` of a slice of the panorama: the tables
    depend on the pitch (1-degree bins, the rest applied as a row shift) and the yaw is a column
    shift, so no per-frame table is computed.
    """

    def __init__(self, width: int, height: int) -> None:
        validate_frame_size(width, height)
        self.width, self.height = width, height
        oversample = 4 if width <= 128 else 3 if width <= 256 else 2
        self.pixels_per_degree = oversample * width / 90.0
        self._columns = round(360 * self.pixels_per_degree)
        self._pad = math.ceil(self.pixels_per_degree * _PITCH_BIN_DEG / 2) + 2
        core = _draw_room(self._columns, round(180 * self.pixels_per_degree) + 1, oversample)
        padded = np.concatenate(
            [np.repeat(core[:1], 2 * self._pad, 0), core, np.repeat(core[-1:], 2 * self._pad, 0)]
        )
        self._panorama = np.concatenate([padded, padded, padded[:, :2]], axis=1)
        self._slice_rows = core.shape[0] + 2 * self._pad
        self._slice_columns = self._columns + 2
        self._tables: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def _table(self, pitch_bin: int) -> tuple[np.ndarray, np.ndarray]:
        table = self._tables.get(pitch_bin)
        if table is None:
            table = self._build_table(pitch_bin * _PITCH_BIN_DEG)
            self._tables[pitch_bin] = table
        return table

    def _build_table(self, pitch_deg: float) -> tuple[np.ndarray, np.ndarray]:
        focal = self.width / 2
        rows, cols = np.mgrid[0 : self.height, 0 : self.width].astype(np.float64)
        rays = np.stack(
            [(cols - (self.width - 1) / 2) / focal, (rows - (self.height - 1) / 2) / focal],
            axis=-1,
        )
        camera_to_world = view_rotations(np.array([0.0]), np.array([pitch_deg]))[0].T
        world = rays[..., 0:1] * camera_to_world[:, 0] + rays[..., 1:2] * camera_to_world[:, 1]
        world = world + camera_to_world[:, 2]
        azimuth = np.degrees(np.arctan2(world[..., 0], world[..., 2]))
        elevation = np.degrees(np.arctan2(-world[..., 1], np.hypot(world[..., 0], world[..., 2])))
        map_x = ((azimuth + 180.0) * self.pixels_per_degree).astype(np.float32)
        map_y = ((90.0 - elevation) * self.pixels_per_degree + self._pad).astype(np.float32)
        return cv2.convertMaps(map_x, map_y, cv2.CV_16SC2)

    def draw(self, frame: np.ndarray, yaw_deg: float, pitch_deg: float, pitch_bin: int) -> None:
        """Draws the room seen at (yaw, pitch) into ``frame`` [H, W, 3] (pitch_bin = rounded)."""
        map_xy, map_fraction = self._table(pitch_bin)
        row = self._pad + round((pitch_deg - pitch_bin * _PITCH_BIN_DEG) * self.pixels_per_degree)
        column = round(yaw_deg * self.pixels_per_degree) % self._columns
        source = self._panorama[row : row + self._slice_rows, column : column + self._slice_columns]
        cv2.remap(source, map_xy, map_fraction, cv2.INTER_LINEAR, dst=frame)

    @staticmethod
    def pitch_bins(pitch_deg: np.ndarray) -> np.ndarray:
        """The remap-table bin of each pitch."""
        bins = np.rint(np.asarray(pitch_deg) / _PITCH_BIN_DEG)
        return np.clip(bins, -_MAX_PITCH_BIN, _MAX_PITCH_BIN).astype(np.int64)


def _draw_room(columns: int, rows: int, oversample: int) -> np.ndarray:
    """Ray-casts a box room (screen wall ahead, blue side walls, floor, lit ceiling)."""
    azimuth = np.radians((np.arange(columns) + 0.5) / columns * 360.0 - 180.0)
    elevation = np.radians(90.0 - np.arange(rows) / (rows - 1) * 180.0)
    el, az = np.meshgrid(elevation, azimuth, indexing="ij")
    direction = np.stack([np.cos(el) * np.sin(az), -np.sin(el), np.cos(el) * np.cos(az)], -1)
    walls = {  # axis, signed distance of the face
        "front": (2, 1.0),
        "back": (2, -1.4),
        "right": (0, 1.15),
        "left": (0, -1.15),
        "floor": (1, 0.7),
        "ceiling": (1, -1.6),
    }
    best_t = np.full(el.shape, np.inf)
    face = np.zeros(el.shape, dtype=np.int8)
    for index, (axis, distance) in enumerate(walls.values()):
        with np.errstate(divide="ignore", invalid="ignore"):
            t = distance / direction[..., axis]
        closer = (t > 0) & (t < best_t)
        best_t[closer] = t[closer]
        face[closer] = index
    hit = direction * best_t[..., None]
    image = np.zeros(el.shape + (3,), dtype=np.float32)
    names = list(walls)
    x, y, z = hit[..., 0], hit[..., 1], hit[..., 2]
    _shade_front(image, face == names.index("front"), x, y)
    for name, u in (("left", z), ("right", z), ("back", x)):
        _shade_panels(image, face == names.index(name), u, y)
    _shade_floor(image, face == names.index("floor"), x, z)
    _shade_ceiling(image, face == names.index("ceiling"), x, z)
    image = cv2.GaussianBlur(image, (0, 0), sigmaX=0.35 * oversample)
    return np.clip(image, 0, 255).astype(np.uint8)


def _shade_front(image: np.ndarray, mask: np.ndarray, x: np.ndarray, y: np.ndarray) -> None:
    """The wall ahead: backdrop, tiers, the screen's black face, its bezel and stand.

    Grey levels and band widths were measured on DeepMind Lab frames mapped onto the screen's
    plane (``_FRONT_GREYS``; 160 px, 367 frames at rest); the black region (face and strip,
    which the vision pipeline finds) keeps the geometry the trial timings were calibrated with.
    """
    half = SCREEN_WIDTH_OVER_DISTANCE / 2
    dx = np.abs(x)
    dy = y - _screen_centre_height()
    greys = _FRONT_GREYS
    colour = np.full(x.shape, greys["backdrop"], dtype=np.float32)
    tiers = (dx > 0.88) & (y > -0.1)
    colour[tiers] = greys["tiers"]
    for row in _TIER_STRIPE_ROWS:
        colour[(dx > 0.88) & (np.abs(y - row) < 0.02)] = greys["tier_stripe"]
    top = -half - _BEZEL_STRIP - _BEZEL_BAR
    colour[(dx < 0.015) & (dy < top)] = greys["pole"]
    rows_of_bezel = (dy >= top) & (dy <= half + _BEZEL_BAR)
    for start, stop, grey in _SIDE_BEZEL_BANDS:
        colour[rows_of_bezel & (dx > half + start) & (dx <= half + stop)] = grey
    across = dx <= half + _SIDE_BEZEL_BANDS[-1][1]
    colour[across & (dy >= top) & (dy < top + _BEZEL_BAR)] = greys["top_bar"]
    colour[across & (dy > half) & (dy <= half + _BEZEL_BAR)] = greys["bottom_bar"]
    colour[across & (dy > half) & (dy <= half + 0.025)] = greys["face_edge"]
    colour[(dx < 0.55) & (dy > half + _BEZEL_BAR)] = greys["stand"]
    colour[(dx <= half) & (dy >= -half - _BEZEL_STRIP) & (dy <= half)] = 0  # unlit black face
    image[mask] = np.repeat(colour[mask][:, None], 3, axis=1)


def _shade_panels(image: np.ndarray, mask: np.ndarray, u: np.ndarray, y: np.ndarray) -> None:
    """Blue wall panels with white horizontal stripes and dark seams."""
    colour = np.empty(u.shape + (3,), dtype=np.float32)
    colour[:] = (28, 62, 112)
    stripes = np.abs((y * 4.0) % 1.0 - 0.5) > 0.44
    colour[stripes] = (205, 208, 215)
    seams = np.abs((u * 1.5) % 1.0 - 0.5) > 0.48
    colour[seams] = (15, 25, 45)
    image[mask] = colour[mask]


def _shade_floor(image: np.ndarray, mask: np.ndarray, x: np.ndarray, z: np.ndarray) -> None:
    """Dark floor with a faint tile grid."""
    colour = np.empty(x.shape + (3,), dtype=np.float32)
    colour[:] = (52, 52, 55)
    grid = (np.abs((x * 2) % 1 - 0.5) > 0.47) | (np.abs((z * 2) % 1 - 0.5) > 0.47)
    colour[grid] = (78, 80, 86)
    image[mask] = colour[mask]


def _shade_ceiling(image: np.ndarray, mask: np.ndarray, x: np.ndarray, z: np.ndarray) -> None:
    """Grey ceiling with white light strips."""
    colour = np.empty(x.shape + (3,), dtype=np.float32)
    colour[:] = (40, 41, 44)
    lights = np.abs((x * 1.2) % 1 - 0.5) > 0.46
    colour[lights] = (235, 235, 235)
    image[mask] = colour[mask]


_BLACK_MAX = LocatorConfig().black_max  # what the vision pipeline takes for black


def room_tone_table(gain: float, gamma: float) -> np.ndarray:
    """The 256-entry grey-level table of ``ScreenRenderer.set_room_tone``."""
    if not (gain > 0 and gamma > 0):
        raise ValueError(f"room tone gain and gamma must be > 0, got {gain} and {gamma}")
    levels = np.arange(256, dtype=np.float64)
    toned = np.clip(np.rint(255.0 * gain * (levels / 255.0) ** gamma), _BLACK_MAX + 1, 255)
    toned[: _BLACK_MAX + 1] = levels[: _BLACK_MAX + 1]
    return toned.astype(np.uint8)


@lru_cache(maxsize=4)
def room_panorama(width: int, height: int) -> RoomPanorama:
    """The shared (cached) room panorama for a frame size."""
    return RoomPanorama(width, height)


class ScreenRenderer:
    """Draws N first-person frames: the room, then the screen's contents as one overlay each.

    With ``reuse`` (the default) an environment whose view is one of the last it drew gets
    that frame again (up to ``REUSE_FRAMES`` per environment, ``REUSE_BYTES`` in all), and
    one whose room is seen as in its last frame (only the screen's contents changed) gets
    that room again: the same pixels, without drawing them. A frame depends on nothing but
    its view: the angles, eye drop, screen state, spawn ring, images and room tone.
    """

    REUSE_FRAMES = 16
    REUSE_BYTES = 32 << 20

    def __init__(self, num_envs: int, width: int, height: int, reuse: bool = True) -> None:
        validate_frame_size(width, height)
        self.num_envs, self.width, self.height = num_envs, width, height
        self.reuse = reuse
        self._reuse_frames = max(
            1, min(self.REUSE_FRAMES, self.REUSE_BYTES // (num_envs * height * width * 3))
        )
        self.texels = texture_texels(width)
        self._room = room_panorama(width, height)
        self._cross = cross_texture(self.texels)
        self._images: list[np.ndarray | None] = [None] * num_envs
        self._cross_to_texels = _region_to_texels(CROSS_REGION, self.texels)
        self._images_to_texels = _region_to_texels(IMAGES_REGION, self.texels)
        self._room_luts: list[np.ndarray | None] = [None] * num_envs
        # Per environment: bumped whenever its images, or its room tone, change.
        self._image_versions = np.zeros(num_envs)
        self._room_versions = np.zeros(num_envs)
        # Per environment: the frames last drawn by their views (yaw, pitch, eye drop, screen
        # state, spawn ring, image version or -1 when no images show, room version),
        # least recently used first.
        self._drawn: list[OrderedDict[tuple, np.ndarray]] = [OrderedDict() for _ in range(num_envs)]
        # The room last drawn (before the screen's contents, the ring, the cracks)
        # and what it was drawn from (yaw, the background's pitch, room version): the
        # screen's contents often change in a view that holds still.
        self._rooms = np.zeros((num_envs, height, width, 3), np.uint8)
        self._rooms_from = np.full((num_envs, 3), np.nan)

    def set_room_tone(self, env: int, gain: float, gamma: float) -> None:
        """Draws ``env``'s room (walls, bezel, not the screen's contents) with grey levels
        ``255 * gain * (v / 255) ** gamma``; gain 1 and gamma 1 restore the measured ones.

        Black (0..2, what the vision pipeline takes for the screen's face) stays as it is
        and nothing else becomes black, so the screen the wrapper finds does not change.
        """
        self._room_versions[env] += 1
        if gain == 1.0 and gamma == 1.0:
            self._room_luts[env] = None
            return
        self._room_luts[env] = room_tone_table(gain, gamma)

    def set_images(self, env: int, left: np.ndarray, right: np.ndarray) -> None:
        """Sets the images (204x204, as from ``scale_dataset_image``) shown in ``env``."""
        self.set_images_texture(env, images_texture(left, right, self.texels))

    def set_images_texture(self, env: int, texture: np.ndarray) -> None:
        """Sets the images shown in ``env`` as an ``images_texture`` at ``self.texels``."""
        if texture is not self._images[env]:
            self._images[env] = texture
            self._image_versions[env] += 1

    def render(
        self,
        frames: np.ndarray,
        yaw_deg: np.ndarray,
        pitch_deg: np.ndarray,
        eye_drop: np.ndarray,
        screen_state: np.ndarray,
        env_ids: np.ndarray | None = None,
        spawn_ring: np.ndarray | None = None,
    ) -> None:
        """Renders the views into ``frames`` [N, H, W, 3] uint8 in place (all, or ``env_ids``).

        Angles, eye drops, screen states and ``spawn_ring`` (bool: the view shows the spawn
        ring, see ``SPAWN_RING_STEPS``; default none) are [N] arrays for all environments.
        """
        envs = np.arange(self.num_envs) if env_ids is None else np.asarray(env_ids)
        rings = np.zeros(len(envs), bool) if spawn_ring is None else spawn_ring[envs]
        if not self.reuse:
            self._draw(
                frames,
                envs,
                yaw_deg[envs],
                pitch_deg[envs],
                eye_drop[envs],
                screen_state[envs],
                rings,
            )
            return
        state = screen_state[envs]
        views = np.stack(
            [
                yaw_deg[envs],
                pitch_deg[envs],
                eye_drop[envs],
                state,
                rings,
                np.where(state == SCREEN_IMAGES, self._image_versions[envs], -1.0),
                self._room_versions[envs],
            ],
            axis=1,
        )
        keys = [tuple(view) for view in views.tolist()]
        env_list = envs.tolist()
        known = np.array([key in self._drawn[env] for env, key in zip(env_list, keys, strict=True)])
        if not known.all():
            new = envs[~known]
            self._draw(
                frames,
                new,
                yaw_deg[new],
                pitch_deg[new],
                eye_drop[new],
                state[~known],
                rings[~known],
            )
        for env, key, seen in zip(env_list, keys, known.tolist(), strict=True):
            drawn = self._drawn[env]
            if seen:
                frames[env] = drawn[key]
                drawn.move_to_end(key)
            else:
                drawn[key] = frames[env].copy()
                if len(drawn) > self._reuse_frames:
                    drawn.popitem(last=False)

    def _draw(
        self,
        frames: np.ndarray,
        envs: np.ndarray,
        yaw: np.ndarray,
        pitch: np.ndarray,
        drop: np.ndarray,
        state: np.ndarray,
        rings: np.ndarray,
    ) -> None:
        """Draws the frames of ``envs`` (the other arrays: theirs, in the same order)."""
        if rings.any():
            ring_points, ring_in_front = spawn_ring_points(
                yaw[rings], pitch[rings], self.width, self.height
            )
            ring_index = np.cumsum(rings) - 1
        background_pitch = pitch + np.degrees(np.arctan(drop))
        pitch_bins = RoomPanorama.pitch_bins(background_pitch)
        to_frame = screen_to_frame_homographies(yaw, pitch, drop, self.width, self.height)
        showing_images = state == SCREEN_IMAGES
        overlays = np.where(
            showing_images[:, None, None], self._images_to_texels, self._cross_to_texels
        )
        homographies = to_frame @ overlays
        boxes = self._overlay_boxes(homographies, showing_images)
        rooms_from = np.stack([yaw, background_pitch, self._room_versions[envs]], axis=1)
        same_rooms = (rooms_from == self._rooms_from[envs]).all(axis=1) & self.reuse
        for k, env in enumerate(envs):
            frame = frames[env]
            if same_rooms[k]:
                frame[...] = self._rooms[env]
            else:
                self._room.draw(frame, yaw[k], background_pitch[k], pitch_bins[k])
                room_lut = self._room_luts[env]
                if room_lut is not None:
                    cv2.LUT(frame, room_lut, dst=frame)
                self._rooms[env] = frame
            x0, y0, x1, y1 = boxes[k]
            if (state[k] == SCREEN_FIXATION or state[k] == SCREEN_IMAGES) and x1 > x0 and y1 > y0:
                texture = self._images[env] if showing_images[k] else self._cross
                shift = np.array([[1.0, 0.0, -x0], [0.0, 1.0, -y0], [0.0, 0.0, 1.0]])
                cv2.warpPerspective(
                    texture,
                    shift @ homographies[k],
                    (int(x1 - x0), int(y1 - y0)),
                    dst=frame[y0:y1, x0:x1],
                    flags=cv2.INTER_LINEAR,
                    borderMode=cv2.BORDER_TRANSPARENT,
                )
            if rings[k]:
                index = ring_index[k]
                draw_spawn_ring(frame, ring_points[index], ring_in_front[index])
        self._rooms_from[envs] = rooms_from
        # The cracks lie above the screen's face, where neither overlays nor the ring reach.
        view, row, column = bezel_crack_pixels(yaw, pitch, drop, self.width, self.height)
        frames[envs[view], row, column] = 0

    def _overlay_boxes(self, homographies: np.ndarray, showing_images: np.ndarray) -> np.ndarray:
        """Frame rectangles [N, 4] (x0, y0, x1, y1, exclusive) that the overlays can touch."""
        cross_h, cross_w = self._cross.shape[:2]
        images_w = (IMAGES_REGION[2] - IMAGES_REGION[0]) * self.texels // SCREEN_TEXELS
        images_h = (IMAGES_REGION[3] - IMAGES_REGION[1]) * self.texels // SCREEN_TEXELS
        right = np.where(showing_images, images_w, cross_w) - 0.5
        bottom = np.where(showing_images, images_h, cross_h) - 0.5
        start = np.full_like(right, -0.5)
        corners = np.stack(
            [
                np.stack([start, right, start, right], axis=1),
                np.stack([start, start, bottom, bottom], axis=1),
                np.ones((len(right), 4)),
            ],
            axis=1,
        )  # [N, 3, 4]: texture-index corners of each overlay
        projected = homographies @ corners
        depth = projected[:, 2]
        with np.errstate(divide="ignore", invalid="ignore"):
            px = projected[:, 0] / depth
            py = projected[:, 1] / depth
        boxes = np.stack(
            [
                np.floor(px.min(1)) - 1,
                np.floor(py.min(1)) - 1,
                np.ceil(px.max(1)) + 2,
                np.ceil(py.max(1)) + 2,
            ],
            axis=1,
        )
        partly_behind = (depth <= 1e-6).any(axis=1)
        boxes[partly_behind] = (0, 0, self.width, self.height)
        boxes[(depth <= 1e-6).all(axis=1)] = 0
        boxes = np.nan_to_num(boxes, nan=0.0, posinf=0.0, neginf=0.0)
        limits = np.array([self.width, self.height, self.width, self.height])
        return np.clip(boxes, 0, limits).astype(np.int64)
