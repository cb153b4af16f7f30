"""Human-readable part names from shape and position (Blender axes: Z up, front is -Y).

Each part is described by its bounding box relative to the whole object; simple rules name
legs, tops, seats, shelves, bases, sides, backs, poles, lids, handles, arms, heads and the body. Parts no rule fits are called
``part_N``. Repeated names are numbered left to right: ``leg_1`` ... ``leg_4``.
:func:`carry_renames` keeps the names a user gave through a re-split.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from .segmentation_metrics import iou_matrix

SAME_PART_IOU = 0.5   # a new part "is" an earlier one when more than half their union is shared


@dataclass
class PartShape:
    """What the naming rules look at for one part."""

    low: np.ndarray      # bbox minimum (3,)
    high: np.ndarray     # bbox maximum (3,)
    centroid: np.ndarray  # area-weighted (3,)
    area_share: float

    @property
    def size(self) -> np.ndarray:
        return self.high - self.low


def describe_parts(positions: np.ndarray, triangles: np.ndarray, labels: np.ndarray, count: int) -> list[PartShape]:
    """Bounding box, centroid and area share of every label 0..count-1 (triangle labels)."""
    tri = positions[triangles]
    areas = 0.5 * np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1)
    centers = tri.mean(axis=1)
    total = float(areas.sum()) or 1.0
    shapes = []
    for label in range(count):
        mask = labels == label
        if not mask.any():
            shapes.append(PartShape(np.zeros(3), np.zeros(3), np.zeros(3), 0.0))
            continue
        pts = tri[mask].reshape(-1, 3)
        weight = areas[mask]
        centroid = (centers[mask] * weight[:, None]).sum(0) / weight.sum() if weight.sum() > 0 else centers[mask].mean(0)
        shapes.append(PartShape(pts.min(0), pts.max(0), centroid, float(weight.sum() / total)))
    return shapes


def _name_one(part: PartShape, whole_low: np.ndarray, whole_size: np.ndarray, is_largest: bool, count: int) -> str | None:
    size = np.maximum(part.size, 1e-12)
    rel = (part.centroid - whole_low) / np.maximum(whole_size, 1e-12)
    horizontal = max(size[0], size[1])
    touches_floor = (part.low[2] - whole_low[2]) < 0.1 * whole_size[2]
    if count == 1:
        return "body"
    if (size[2] > 2.5 * horizontal and touches_floor and not is_largest
            and horizontal < 0.25 * max(whole_size[0], whole_size[1])):
        return "leg"
    if size[2] < 0.3 * min(size[0], size[1]) and part.area_share > 0.08:
        if rel[2] > 0.6:
            return "top"
        if touches_floor:
            return "base"
        return "seat" if rel[2] > 0.3 else "shelf"
    if (size[0] < 0.3 * min(size[1], size[2]) and abs(rel[0] - 0.5) > 0.4
            and size[2] > 0.6 * whole_size[2] and part.area_share > 0.05):
        return "side"  # a tall vertical plate at the left or right end (bookshelf, crate)
    if (min(size[0], size[1]) < 0.3 * size[2] and max(size[0], size[1]) > 0.6 * size[2]
            and rel[2] > 0.55 and part.area_share > 0.08):
        return "back"
    if is_largest:
        return "body"
    if (size[2] > 4 * horizontal and not touches_floor and abs(rel[0] - 0.5) < 0.15
            and abs(rel[1] - 0.5) < 0.15):
        return "pole"  # a slender vertical part on the centre line (lamp stand)
    if (rel[2] > 0.75 and part.high[2] >= whole_low[2] + 0.97 * whole_size[2]
            and horizontal > 0.6 * max(whole_size[0], whole_size[1]) and part.area_share < 0.4):
        return "lid"  # the wide cap on top of a body
    sideways = abs(rel[0] - 0.5) > 0.3 or abs(rel[1] - 0.5) > 0.3
    if sideways and not touches_floor and part.area_share < 0.25:
        if max(size[0], size[1]) > 2.5 * size[2]:
            return "arm"
        return "handle"
    if rel[2] > 0.8 and part.area_share < 0.3:
        return "head"
    return None


def name_parts(shapes: list[PartShape]) -> list[str]:
    """One unique name per part, in label order."""
    return number_names(shape_names(shapes), [s.centroid for s in shapes])


def shape_names(shapes: list[PartShape]) -> list[str | None]:
    """The rules' name of each part before numbering (None where no rule fits)."""
    if not shapes:
        return []
    present = [s for s in shapes if s.area_share > 0] or shapes  # all-degenerate meshes have no area
    lows = np.array([s.low for s in present])
    highs = np.array([s.high for s in present])
    whole_low, whole_size = lows.min(0), highs.max(0) - lows.min(0)
    largest = int(np.argmax([s.area_share for s in shapes]))
    return [_name_one(s, whole_low, whole_size, i == largest, len(shapes)) for i, s in enumerate(shapes)]


def number_names(bases: list[str | None], centroids) -> list[str]:
    """Unique names: a base used by several parts is numbered left to right (x, then y):
    ``leg_1`` ... ``leg_4``; parts without a base become ``part_N``."""
    names: list[str] = [""] * len(bases)
    for base in {n for n in bases if n}:
        members = [i for i, n in enumerate(bases) if n == base]
        if len(members) == 1:
            names[members[0]] = base
            continue
        members.sort(key=lambda i: (round(float(centroids[i][0]), 6), float(centroids[i][1])))
        for number, i in enumerate(members, start=1):
            names[i] = f"{base}_{number}"
    taken = set(names)
    counter = 1
    for i, name in enumerate(names):
        if not name:
            while f"part_{counter}" in taken:
                counter += 1
            names[i] = f"part_{counter}"
            taken.add(names[i])
    return names


def carry_renames(earlier_ids: np.ndarray, earlier_names: list[str], given: dict[int, str], new_ids: np.ndarray,
                  new_names: list[str], face_areas: np.ndarray) -> list[str]:
    """``new_names`` with the user's names kept: ``given`` maps earlier part indices to the names
    the user sees; one that differs from the earlier name (beyond Blender's ``.001`` suffix) is a
    rename, and goes to the new part sharing more than ``SAME_PART_IOU`` of its area (IoU) with
    that earlier part: the part that still exists. Parts that changed more keep their new names."""
    renamed = {i: n.strip() for i, n in given.items()
               if 0 <= i < len(earlier_names) and n.strip()
               and not re.fullmatch(re.escape(earlier_names[i]) + r"(\.\d{3})?", n.strip())}
    names = list(new_names)
    if not renamed:
        return names
    ious = iou_matrix(new_ids, earlier_ids, face_areas)
    for old, name in renamed.items():
        if old < ious.shape[1] and ious.shape[0] and ious[:, old].max() > SAME_PART_IOU:
            names[int(ious[:, old].argmax())] = name
    return names
