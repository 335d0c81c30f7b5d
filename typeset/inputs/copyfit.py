"""Copyfitting: the smallest change within the house style's tolerances that makes an article
end on its last planned page, and at the foot of it.

The knobs and their ranges come from `styles/copyfit.yaml` (nearest copy in the house search
path); an article may narrow, pin or forbid each in its front matter (`fit:`). Tightening
tries candidates from the smallest change up: photos a little smaller first, then tighter
leading, then tracking, then a smaller body size; the first that fits is taken, or one a model
of the text's length guessed whose layout ends within a line of the foot. Loosening
runs the same ladder the other way: the tightening undone (photos back to full size last),
then looser leading, tracking and a larger size. The order is fixed, so the same input always
picks the same settings.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import yaml

from ..diagnostics import Diagnostics
from ..i18n import _
from .house import House

KNOBS = {"leading": (0.0, "em"), "tracking": (0.0, "em"), "size": (0.0, "pt"), "photo_scale": (1.0, "")}
CONFIG = "copyfit.yaml"


@dataclass(frozen=True)
class Setting:
    leading: float = 0.0  # em
    tracking: float = 0.0  # em
    size: float = 0.0  # pt
    photo_scale: float = 1.0

    def css(self) -> str:
        """Custom properties read by the house CSS (styles/20-article.css)."""
        return (f"--fit-leading: {self.leading:g}em; --fit-tracking: {self.tracking:g}em; "
                f"--fit-size: {self.size:g}pt; --fit-photo: {self.photo_scale:g}")

    def changes(self) -> dict:
        return {k: getattr(self, k) for k, (neutral, _) in KNOBS.items() if getattr(self, k) != neutral}

    def describe(self) -> str:
        parts = []
        for knob, value in self.changes().items():
            unit = KNOBS[knob][1]
            parts.append(f"{knob} {value:+g}{unit}" if unit else f"{knob} {value:g}")
        return ", ".join(parts) or "house style"


Ranges = dict[str, tuple[float, float]]


def load_ranges(house: House, diagnostics: Diagnostics) -> Ranges:
    """The knobs' ranges from the nearest styles/copyfit.yaml; none (no fitting) without one."""
    for folder in house.dirs("styles"):
        path = folder / CONFIG
        if not path.is_file():
            continue
        shown = house.shown(path)
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            diagnostics.error(_("cannot read copyfitting tolerances: {reason}", reason=exc), file=shown)
            return {}
        ranges = {}
        for knob, value in data.items():
            if knob not in KNOBS:
                diagnostics.warning(_("unknown copyfitting knob '{knob}'", knob=knob), file=shown, key=knob,
                                    hint=_("known knobs: {knobs}", knobs=", ".join(KNOBS)))
                continue
            parsed = parse_range(value, KNOBS[knob][0])
            if parsed is None:
                diagnostics.error(_("expected [min, max] around {neutral:g}, got {value!r}", neutral=KNOBS[knob][0],
                                    value=value), file=shown, key=knob)
                continue
            ranges[knob] = parsed
        return ranges
    return {}


def parse_range(value, neutral: float) -> tuple[float, float] | None:
    """[lo, hi] (containing the neutral value), a number (pinned) or false (forbidden: neutral)."""
    if value is False:
        return (neutral, neutral)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (float(value), float(value))
    if isinstance(value, list) and len(value) == 2 and all(isinstance(v, (int, float)) for v in value):
        lo, hi = float(value[0]), float(value[1])
        if lo <= neutral <= hi:
            return (lo, hi)
    return None


def narrow(house_ranges: Ranges, article_limits: dict) -> Ranges:
    """The article's own ranges: its front matter narrows (never widens) the house's."""
    ranges = dict(house_ranges)
    for knob, (lo, hi) in article_limits.items():
        house_lo, house_hi = house_ranges.get(knob, (KNOBS[knob][0], KNOBS[knob][0]))
        ranges[knob] = (max(lo, house_lo), min(hi, house_hi)) if lo <= hi else (house_lo, house_lo)
    return ranges


def tightening(ranges: Ranges, has_photo: bool) -> list[Setting]:
    """Settings that make an article shorter, from the smallest change to the largest."""
    def steps(knob, values):
        lo, hi = ranges.get(knob, (KNOBS[knob][0], KNOBS[knob][0]))
        return [v for v in values if lo <= v <= hi] or [KNOBS[knob][0]]

    out: list[Setting] = []
    photo = 1.0
    if has_photo:
        for photo in steps("photo_scale", [0.85, 0.7, 0.6]):
            out.append(Setting(photo_scale=photo))
    lo_photo = min(steps("photo_scale", [1.0, 0.85, 0.7, 0.6])) if has_photo else 1.0
    for leading in steps("leading", [-0.05, -0.1, -0.15]):
        out.append(Setting(leading=leading, photo_scale=lo_photo))
    tightest_leading = min(steps("leading", [0.0, -0.05, -0.1, -0.15]))
    for tracking in steps("tracking", [-0.01, -0.02, -0.03]):
        out.append(Setting(leading=tightest_leading, tracking=tracking, photo_scale=lo_photo))
    tightest_tracking = min(steps("tracking", [0.0, -0.01, -0.02, -0.03]))
    for size in steps("size", [-0.25, -0.5]):
        out.append(Setting(leading=tightest_leading, tracking=tightest_tracking, size=size, photo_scale=lo_photo))
    unique: list[Setting] = []
    for setting in out:
        if setting.changes() and setting not in unique:
            unique.append(setting)
    return unique


def loosening(ranges: Ranges) -> list[Setting]:
    """Settings that make an article longer than the house style, from the smallest change to the
    largest: leading first (the least visible), then tracking, then the body size."""
    def steps(knob, values):
        lo, hi = ranges.get(knob, (KNOBS[knob][0], KNOBS[knob][0]))
        return [v for v in values if lo <= v <= hi]

    out: list[Setting] = []
    leading = 0.0
    for leading in steps("leading", [0.02, 0.04, 0.06, 0.08, 0.1]):
        out.append(Setting(leading=leading))
    tracking = 0.0
    for tracking in steps("tracking", [0.01, 0.02, 0.03]):
        out.append(Setting(leading=leading, tracking=tracking))
    for size in steps("size", [0.25, 0.5]):
        out.append(Setting(leading=leading, tracking=tracking, size=size))
    return out


def ladder(ranges: Ranges, has_photo: bool) -> list[Setting]:
    """Every setting copyfitting may choose, from the tightest to the loosest, the house style
    (`Setting()`) among them: each is at least as long as the one before it."""
    return [*reversed(tightening(ranges, has_photo)), Setting(), *loosening(ranges)]


def first_reaching(reaches, low: int, high: int, guess) -> int:
    """The first index in (low, high] where `reaches(index)` holds, given that it does not hold
    at `low` and, going up, never stops holding once it does (`high` is taken to hold).
    `guess(low, high)` (`model_guess`) gives the first probe; then, when that holds, its neighbour
    below (two calls when the guess is right); when it does not, what `guess` gives above it,
    corrected by the probe. Bisection from there. Copyfitting's searches call it with a layout
    per call."""
    probe = guess(low, high)
    for step in itertools.count():
        if high - low <= 1:
            return high
        middle = probe if low < probe < high and step < 2 else (low + high) // 2
        if reaches(middle):
            high, probe = middle, middle - 1
        else:
            low, probe = middle, min(max(guess(middle, high), middle + 1), high - 1)


def model_guess(estimate, reached, measured: dict[int, float]):
    """A guess for `first_reaching`: the first index whose `estimate` (what a layout would measure
    there), corrected by the difference between the last measurement (`measured`, index -> value,
    in the order taken) and its estimate, is `reached`; the last index before `high` when none is."""
    def guess(low: int, high: int) -> int:
        offset = 0.0
        if measured:
            index, value = next(reversed(measured.items()))
            offset = value - estimate(index)
        return next((i for i in range(low + 1, high) if reached(estimate(i) + offset)), high - 1)
    return guess


def relative_length(setting: Setting | None) -> float:
    """Roughly how long an article set with `setting` is, the house style's length being 1: what
    copyfitting's searches guess their first trial from (they confirm it by laying out: a rough
    guess costs a layout, and is taken only when it fits and ends within a line of the foot).
    Body lines grow with the leading (1.6 em), with the size twice (larger type, fewer
    characters a line of 10 pt) and with the tracking. Photos are left out: tightening takes them
    as the layout measured them (`planning._photo_lines`); loosening, whose steps restore a
    photo's size only for an article tightened before, takes those steps for no change."""
    setting = setting or Setting()
    size = 1 + setting.size / 10
    return (1 + setting.leading / 1.6) * size * size * (1 + setting.tracking)
