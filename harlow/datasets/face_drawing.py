"""Drawing one synthetic face with OpenCV, from a seeded NumPy generator.

The parameters are drawn from ``rng`` in a fixed order: background (plain,
gradient, stripes, checks, dots or a disc), head shape (a super-ellipse whose jaw
narrows or widens), skin tone, ears, neck and clothes, hair style and colour,
eyes, brows, nose, mouth, facial hair, glasses and a hat. Only flat colours are
used, so PNG files stay small, and no colour is a saturated red, so nothing looks
like Psychlab's red fixation cross. Changing anything here changes the faces:
bump ``GENERATOR_VERSION`` in ``faces.py`` and regenerate ``datasets/faces``.
"""

from __future__ import annotations

import colorsys
from typing import NamedTuple

import cv2
import numpy as np

from harlow.datasets.manifest import IMAGE_SIZE

Color = tuple[int, int, int]

_AA = cv2.LINE_AA
_SKIN_TONES: tuple[Color, ...] = (
    (255, 229, 210),
    (246, 208, 178),
    (234, 189, 157),
    (222, 168, 124),
    (198, 140, 96),
    (170, 112, 72),
    (141, 85, 52),
    (104, 62, 38),
    (74, 45, 30),
)
_FANTASY_SKINS: tuple[Color, ...] = (
    (178, 222, 160),
    (160, 200, 235),
    (205, 180, 230),
    (190, 190, 190),
    (240, 225, 130),
)
_HAIR_COLORS: tuple[Color, ...] = (
    (20, 16, 14),
    (58, 38, 26),
    (104, 66, 40),
    (150, 80, 45),
    (196, 150, 88),
    (236, 206, 140),
    (150, 150, 150),
    (236, 236, 230),
    (60, 90, 190),
    (60, 150, 90),
    (140, 70, 170),
    (235, 130, 170),
)
_IRIS_COLORS: tuple[Color, ...] = (
    (70, 45, 25),
    (40, 90, 160),
    (60, 120, 70),
    (110, 110, 120),
    (15, 15, 15),
)
_FRAME_COLORS: tuple[Color, ...] = ((15, 15, 15), (110, 70, 40), (200, 170, 70), (40, 60, 150))


class _Head(NamedTuple):
    """Centre and half sizes of the head ellipse, in pixels."""

    cx: float
    cy: float
    half_width: float
    half_height: float


def _hsv(hue_degrees: float, saturation: float, value: float) -> Color:
    """An RGB colour; saturated reds are softened so no colour resembles the cross."""
    r, g, b = colorsys.hsv_to_rgb((hue_degrees % 360.0) / 360.0, saturation, value)
    rgb = [round(255 * c) for c in (r, g, b)]
    if rgb[0] > 150 and rgb[0] - max(rgb[1], rgb[2]) > 90:
        rgb[1] = max(rgb[1], rgb[0] - 90)
        rgb[2] = max(rgb[2], rgb[0] - 90)
    return rgb[0], rgb[1], rgb[2]


def _shade(color: Color, factor: float) -> Color:
    """``color`` scaled by ``factor`` (below 1 darker, above 1 lighter), clipped to 0..255."""
    r, g, b = (min(255, max(0, round(c * factor))) for c in color)
    return r, g, b


def _mix(a: Color, b: Color, weight_of_b: float) -> Color:
    """The colour ``weight_of_b`` of the way from ``a`` to ``b``."""
    r, g, b_ = (round(x + (y - x) * weight_of_b) for x, y in zip(a, b, strict=True))
    return r, g, b_


def _pick(rng: np.random.Generator, options: tuple[Color, ...]) -> Color:
    return options[int(rng.integers(len(options)))]


def _ellipse(
    img: np.ndarray,
    center: tuple[float, float],
    axes: tuple[float, float],
    color: Color,
    thickness: int = -1,
    angle: float = 0.0,
    arc: tuple[float, float] = (0.0, 360.0),
) -> None:
    cv2.ellipse(
        img,
        (round(center[0]), round(center[1])),
        (max(1, round(axes[0])), max(1, round(axes[1]))),
        angle,
        arc[0],
        arc[1],
        color,
        thickness,
        _AA,
    )


def _polygon(img: np.ndarray, points: np.ndarray, color: Color) -> None:
    cv2.fillPoly(img, [np.round(points).astype(np.int32)], color, _AA)


def _line(
    img: np.ndarray,
    start: tuple[float, float],
    end: tuple[float, float],
    color: Color,
    thickness: int,
) -> None:
    p0 = (round(start[0]), round(start[1]))
    p1 = (round(end[0]), round(end[1]))
    cv2.line(img, p0, p1, color, max(1, thickness), _AA)


def _draw_background(img: np.ndarray, rng: np.random.Generator) -> None:
    hue = rng.uniform(0, 360)
    value = rng.uniform(0.2, 1.0)
    base = _hsv(hue, rng.uniform(0.1, 0.6), value)
    other_value = value + rng.choice([-1.0, 1.0]) * rng.uniform(0.08, 0.22)
    other = _hsv(
        hue + rng.uniform(40, 200), rng.uniform(0.1, 0.6), float(np.clip(other_value, 0.1, 1.0))
    )
    img[:] = base
    pattern = int(rng.integers(8))
    period = int(rng.integers(56, 112))
    if pattern == 1:  # vertical gradient
        weights = np.linspace(0.0, 1.0, IMAGE_SIZE)[:, None, None]
        img[:] = np.round(np.array(base) * (1 - weights) + np.array(other) * weights)
    elif pattern == 2:  # horizontal stripes
        for y in range(0, IMAGE_SIZE, period):
            img[y : y + period // 2] = other
    elif pattern == 3:  # vertical stripes
        for x in range(0, IMAGE_SIZE, period):
            img[:, x : x + period // 2] = other
    elif pattern == 4:  # checks
        for y in range(0, IMAGE_SIZE, period):
            for x in range(0, IMAGE_SIZE, period):
                if (x // period + y // period) % 2:
                    img[y : y + period, x : x + period] = other
    elif pattern == 5:  # dots
        radius = max(4, period // 5)
        for y in range(period // 2, IMAGE_SIZE + period, period):
            for x in range(period // 2, IMAGE_SIZE + period, period):
                cv2.circle(img, (x, y), radius, other, -1, _AA)
    elif pattern == 6:  # diagonal stripes
        for offset in range(-IMAGE_SIZE, 2 * IMAGE_SIZE, period):
            band = np.array(
                [[offset, 0], [offset + period // 2, 0], [offset + period // 2 - 256, 256]]
                + [[offset - 256, 256]],
                dtype=np.float64,
            )
            _polygon(img, band, other)
    elif pattern == 7:  # a big disc behind the head
        center = (rng.uniform(40, 216), rng.uniform(30, 120))
        _ellipse(img, center, (rng.uniform(50, 110),) * 2, other)


def _head_outline(head: _Head, rng: np.random.Generator) -> np.ndarray:
    """Outline of a head: a super-ellipse whose lower half narrows (chin) or widens (jaw)."""
    squareness = rng.uniform(2.0, 4.0)
    jaw = rng.uniform(-0.35, 0.12)
    t = np.linspace(0.0, 2.0 * np.pi, 120, endpoint=False)
    cos_t, sin_t = np.cos(t), np.sin(t)
    x = np.sign(cos_t) * np.abs(cos_t) ** (2.0 / squareness)
    y = np.sign(sin_t) * np.abs(sin_t) ** (2.0 / squareness)
    lower = np.clip(y, 0.0, 1.0)
    x = x * (1.0 + jaw * lower**2)
    return np.stack([head.cx + head.half_width * x, head.cy + head.half_height * y], axis=1)


def _draw_body(img: np.ndarray, rng: np.random.Generator, head: _Head, skin: Color) -> None:
    cx, chin_y, half_width = head.cx, head.cy + head.half_height, head.half_width
    neck_half = half_width * rng.uniform(0.35, 0.5)
    neck = np.array(
        [
            [cx - neck_half, chin_y - 20],
            [cx + neck_half, chin_y - 20],
            [cx + neck_half, IMAGE_SIZE],
            [cx - neck_half, IMAGE_SIZE],
        ]
    )
    _polygon(img, neck, _shade(skin, 0.85))
    shirt = _hsv(rng.uniform(0, 360), rng.uniform(0.15, 0.8), rng.uniform(0.2, 0.95))
    shoulder_y = chin_y + rng.uniform(14, 30)
    spread = half_width * rng.uniform(1.3, 1.9)
    body = np.array(
        [
            [cx - neck_half * 1.1, shoulder_y],
            [cx + neck_half * 1.1, shoulder_y],
            [cx + spread, shoulder_y + 25],
            [cx + spread + 20, IMAGE_SIZE + 5],
            [cx - spread - 20, IMAGE_SIZE + 5],
            [cx - spread, shoulder_y + 25],
        ]
    )
    _polygon(img, body, shirt)
    if rng.random() < 0.5:  # V-neck or collar
        collar = np.array(
            [[cx - neck_half, shoulder_y], [cx + neck_half, shoulder_y], [cx, shoulder_y + 28]]
        )
        _polygon(img, collar, _shade(skin, 0.85) if rng.random() < 0.5 else _shade(shirt, 1.6))


def _draw_hair_back(
    img: np.ndarray, rng: np.random.Generator, head: _Head, style: int, color: Color
) -> None:
    """Hair drawn behind the head: long styles fall to the shoulders."""
    cx, cy, hw, hh = head
    if style in (3, 4):  # long straight / long wide
        width = hw * (1.15 if style == 3 else 1.45)
        bottom = cy + hh * rng.uniform(0.7, 1.3)
        shape = np.array(
            [
                [cx - width, cy - hh * 0.2],
                [cx + width, cy - hh * 0.2],
                [cx + width * 1.05, bottom],
                [cx - width * 1.05, bottom],
            ]
        )
        _polygon(img, shape, color)
        _ellipse(img, (cx, cy - hh * 0.2), (width, hh * 0.95), color)
    elif style == 5:  # bun on top
        _ellipse(img, (cx, cy - hh * 1.05), (hw * 0.45, hh * 0.35), color)
    elif style == 6:  # afro / curly halo
        for angle in np.linspace(np.pi * 0.85, np.pi * 2.15, 11):
            px = cx + hw * 1.05 * np.cos(angle)
            py = cy - hh * 0.15 + hh * 1.0 * np.sin(angle)
            _ellipse(img, (px, py), (hw * 0.38, hw * 0.38), color)


def _draw_hair_front(
    img: np.ndarray, rng: np.random.Generator, head: _Head, style: int, color: Color
) -> None:
    """Hair over the top of the head (and fringes); style 0 is bald."""
    cx, cy, hw, hh = head
    if style == 0:
        return
    top = cy - hh
    if style == 7:  # spikes
        for i in range(7):
            x = cx - hw * 0.85 + i * hw * 1.7 / 6
            spike = np.array([[x - 16, top + 30], [x + 16, top + 30], [x, top - 22]])
            _polygon(img, spike, color)
    elif style == 8:  # mohawk
        _ellipse(img, (cx, top + 8), (hw * 0.18, hh * 0.45), color)
        return
    cap_depth = hh * rng.uniform(0.35, 0.7)
    _ellipse(img, (cx, top + cap_depth), (hw * 1.04, cap_depth + 4), color, arc=(180, 360))
    fringe = int(rng.integers(4))
    if fringe == 1:  # straight fringe
        y = top + cap_depth + hh * 0.12
        band = np.array([[cx - hw * 0.85, top + cap_depth], [cx + hw * 0.85, top + cap_depth]])
        band = np.vstack([band, [[cx + hw * 0.8, y], [cx - hw * 0.8, y]]])
        _polygon(img, band, color)
    elif fringe == 2:  # side sweep
        sweep = np.array(
            [
                [cx - hw * 0.95, top + cap_depth],
                [cx + hw * 0.9, top + cap_depth - 6],
                [cx - hw * 0.2, top + cap_depth + hh * 0.35],
            ]
        )
        _polygon(img, sweep, color)
    if style in (3, 4):  # long hair frames the face
        for side in (-1, 1):
            strand = np.array(
                [
                    [cx + side * hw * 0.8, top + cap_depth],
                    [cx + side * hw * 1.08, top + cap_depth],
                    [cx + side * hw * 1.1, cy + hh * 0.6],
                    [cx + side * hw * 0.95, cy + hh * 0.6],
                ]
            )
            _polygon(img, strand, color)


def _draw_eyes(
    img: np.ndarray, rng: np.random.Generator, head: _Head, eye_y: float, skin: Color
) -> float:
    """Draws both eyes; returns their half spacing."""
    cx, hw = head.cx, head.half_width
    spacing = hw * rng.uniform(0.33, 0.48)
    rx = hw * rng.uniform(0.12, 0.2)
    ry = rx * rng.uniform(0.45, 0.85)
    style = int(rng.integers(4))
    iris = _pick(rng, _IRIS_COLORS)
    dark = (25, 20, 20)
    for side in (-1, 1):
        center = (cx + side * spacing, eye_y)
        if style == 0:  # open: white, iris, pupil
            _ellipse(img, center, (rx, ry), (245, 245, 240))
            _ellipse(img, center, (ry * 0.85, ry * 0.85), iris)
            _ellipse(img, center, (ry * 0.4, ry * 0.4), dark)
            _ellipse(img, center, (rx, ry), _shade(skin, 0.45), thickness=2)
        elif style == 1:  # dark dots
            _ellipse(img, center, (ry * 0.8, ry * 0.8), dark)
        elif style == 2:  # closed, smiling arcs
            _ellipse(img, center, (rx, ry), dark, thickness=3, arc=(180, 360))
        else:  # almond with large iris
            _ellipse(img, center, (rx, ry * 0.8), (240, 240, 235))
            _ellipse(img, (center[0] + rx * 0.15, center[1]), (ry * 0.75, ry * 0.75), iris)
            _ellipse(img, center, (rx, ry * 0.8), dark, thickness=2)
    return spacing


def _draw_brows(
    img: np.ndarray,
    rng: np.random.Generator,
    head: _Head,
    eye_y: float,
    spacing: float,
    color: Color,
) -> None:
    cx, hw = head.cx, head.half_width
    length = hw * rng.uniform(0.18, 0.3)
    thickness = int(rng.integers(2, 9))
    raise_by = hw * rng.uniform(0.16, 0.3)
    tilt = rng.uniform(-0.35, 0.35)
    for side in (-1, 1):
        x0, x1 = cx + side * (spacing - length), cx + side * (spacing + length)
        y = eye_y - raise_by
        _line(img, (x0, y + tilt * length * 0.5), (x1, y - tilt * length * 0.5), color, thickness)


def _draw_nose(
    img: np.ndarray, rng: np.random.Generator, head: _Head, nose_y: float, skin: Color
) -> None:
    cx, hw = head.cx, head.half_width
    color = _shade(skin, rng.uniform(0.55, 0.8))
    size = hw * rng.uniform(0.1, 0.2)
    style = int(rng.integers(4))
    if style == 0:  # triangle
        _polygon(
            img,
            np.array([[cx, nose_y - size * 2], [cx + size, nose_y], [cx - size, nose_y]]),
            color,
        )
    elif style == 1:  # button
        _ellipse(img, (cx, nose_y - size * 0.5), (size * 0.9, size * 0.75), color)
    elif style == 2:  # L line
        _line(img, (cx, nose_y - size * 2.2), (cx - size * 0.3, nose_y), color, 3)
        _line(img, (cx - size * 0.3, nose_y), (cx + size * 0.6, nose_y), color, 3)
    else:  # nostrils
        for side in (-1, 1):
            _ellipse(img, (cx + side * size * 0.5, nose_y), (size * 0.3, size * 0.22), color)


def _draw_mouth(
    img: np.ndarray, rng: np.random.Generator, head: _Head, mouth_y: float, skin: Color
) -> None:
    cx, hw = head.cx, head.half_width
    half = hw * rng.uniform(0.22, 0.45)
    lips = _mix(skin, (150, 60, 75), rng.uniform(0.3, 0.75))
    style = int(rng.integers(5))
    if style == 0:  # smile
        _ellipse(img, (cx, mouth_y - half * 0.3), (half, half * 0.5), lips, 4, arc=(20, 160))
    elif style == 1:  # frown
        _ellipse(img, (cx, mouth_y + half * 0.3), (half, half * 0.4), lips, 4, arc=(200, 340))
    elif style == 2:  # straight
        _line(img, (cx - half, mouth_y), (cx + half, mouth_y), lips, int(rng.integers(3, 7)))
    elif style == 3:  # open laugh with teeth
        _ellipse(img, (cx, mouth_y), (half, half * 0.55), (60, 25, 30), arc=(0, 180))
        _ellipse(img, (cx, mouth_y), (half * 0.8, half * 0.18), (245, 245, 240), arc=(0, 180))
    else:  # surprised
        _ellipse(img, (cx, mouth_y), (half * 0.35, half * 0.45), (60, 25, 30))
        _ellipse(img, (cx, mouth_y), (half * 0.35, half * 0.45), lips, 3)


def _draw_facial_hair(
    img: np.ndarray, rng: np.random.Generator, head: _Head, mouth_y: float, color: Color
) -> None:
    cx, chin_y, hw = head.cx, head.cy + head.half_height, head.half_width
    kind = rng.random()
    if kind < 0.12:  # beard
        beard = np.array(
            [
                [cx - hw * 0.85, mouth_y - hw * 0.25],
                [cx + hw * 0.85, mouth_y - hw * 0.25],
                [cx + hw * 0.55, chin_y + 4],
                [cx, chin_y + 18],
                [cx - hw * 0.55, chin_y + 4],
            ]
        )
        _polygon(img, beard, color)
        _ellipse(img, (cx, mouth_y), (hw * 0.25, hw * 0.08), (60, 25, 30))
    elif kind < 0.24:  # moustache
        _ellipse(img, (cx, mouth_y - hw * 0.14), (hw * 0.3, hw * 0.08), color)


def _draw_glasses(
    img: np.ndarray, rng: np.random.Generator, head: _Head, eye_y: float, spacing: float
) -> None:
    cx, hw = head.cx, head.half_width
    kind = int(rng.integers(5))
    if kind < 2:
        return
    color = _pick(rng, _FRAME_COLORS)
    rx = hw * rng.uniform(0.2, 0.27)
    ry = rx * rng.uniform(0.7, 1.0)
    for side in (-1, 1):
        x, y = cx + side * spacing, eye_y
        if kind == 2:  # round
            _ellipse(img, (x, y), (rx, ry), color, 3)
        elif kind == 3:  # rectangular
            cv2.rectangle(
                img,
                (round(x - rx), round(y - ry)),
                (round(x + rx), round(y + ry)),
                color,
                3,
                _AA,
            )
        else:  # sunglasses
            _ellipse(img, (x, y), (rx, ry), (25, 25, 30))
    _line(img, (cx - spacing + rx, eye_y), (cx + spacing - rx, eye_y), color, 3)


def _draw_hat(img: np.ndarray, rng: np.random.Generator, head: _Head) -> None:
    cx, cy, hw, hh = head
    if rng.random() > 0.12:
        return
    color = _hsv(rng.uniform(0, 360), rng.uniform(0.2, 0.7), rng.uniform(0.25, 0.9))
    top = cy - hh
    crown = np.array(
        [
            [cx - hw * 0.8, top + hh * 0.35],
            [cx + hw * 0.8, top + hh * 0.35],
            [cx + hw * 0.7, top - hh * 0.35],
            [cx - hw * 0.7, top - hh * 0.35],
        ]
    )
    _polygon(img, crown, color)
    _ellipse(img, (cx, top + hh * 0.35), (hw * 1.35, hh * 0.1), _shade(color, 0.7))


def draw_face(rng: np.random.Generator) -> np.ndarray:
    """Draws one random face as a ``[256, 256, 3]`` uint8 RGB array, using only ``rng``."""
    img = np.zeros((IMAGE_SIZE, IMAGE_SIZE, 3), np.uint8)
    _draw_background(img, rng)
    cx = IMAGE_SIZE / 2 + rng.uniform(-14, 14)
    cy = IMAGE_SIZE / 2 + rng.uniform(-6, 10)
    hw = rng.uniform(58, 80)
    hh = hw * rng.uniform(1.08, 1.35)
    skin = _pick(rng, _FANTASY_SKINS if rng.random() < 0.15 else _SKIN_TONES)
    hair = _pick(rng, _HAIR_COLORS)
    hair_style = int(rng.integers(9))

    head = _Head(cx, cy, hw, hh)
    _draw_hair_back(img, rng, head, hair_style, hair)
    _draw_body(img, rng, head, skin)
    for side in (-1, 1):  # ears
        _ellipse(img, (cx + side * hw * 0.98, cy), (hw * 0.16, hh * 0.2), _shade(skin, 0.92))
    _polygon(img, _head_outline(head, rng), skin)
    _draw_hair_front(img, rng, head, hair_style, hair)

    eye_y = cy - hh * rng.uniform(0.0, 0.15)
    spacing = _draw_eyes(img, rng, head, eye_y, skin)
    _draw_brows(img, rng, head, eye_y, spacing, _shade(hair, 0.7))
    nose_y = eye_y + hh * rng.uniform(0.28, 0.38)
    _draw_nose(img, rng, head, nose_y, skin)
    mouth_y = nose_y + hh * rng.uniform(0.2, 0.3)
    _draw_mouth(img, rng, head, mouth_y, skin)
    _draw_facial_hair(img, rng, head, mouth_y, _shade(hair, 0.9))
    _draw_glasses(img, rng, head, eye_y, spacing)
    _draw_hat(img, rng, head)
    return img
