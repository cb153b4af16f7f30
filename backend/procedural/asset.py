"""An asset: named parts, each a shape with a material; its SDF, part labels and artist mesh.

Category builders fill an :class:`AssetBuilder`; :meth:`AssetBuilder.finish` returns an
:class:`Asset` standing on z = 0, centred in x and y (Blender coordinates, metres).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from shared.payload import Material, MeshPayload

from .draw import Draw
from .materials import FAMILIES, material, nearest_color_name
from .sdf import Placed, Shape, Union, nearest
from .uv import pack_islands


@dataclass
class Part:
    """One semantic part (all legs together are one part 'leg')."""

    name: str
    family: str
    material: Material
    shape: Shape
    primary: bool


@dataclass
class Asset:
    """A finished procedural object."""

    category: str
    noun: str
    parts: list[Part]
    features: list[str]
    options: dict[str, str]
    size_word: str | None
    height_word: str | None
    color_word: str | None
    primary_family: str
    _pieces: list | None = field(default=None, repr=False)

    @property
    def part_names(self) -> list[str]:
        return [p.name for p in self.parts]

    def part_distances(self, points: np.ndarray) -> np.ndarray:
        """Signed distance of every point to every part, (N, P)."""
        points = np.asarray(points, dtype=np.float64).reshape(-1, 3)
        return np.stack([p.shape.distance(points) for p in self.parts], axis=1)

    def nearest(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(signed distance (N,), nearest part index (N,) int32) at ``points``."""
        return nearest([p.shape for p in self.parts], np.asarray(points, dtype=np.float64).reshape(-1, 3))

    def distance(self, points: np.ndarray) -> np.ndarray:
        """The object's signed distance (union of the parts), (N,)."""
        return self.nearest(points)[0]

    def labels(self, points: np.ndarray) -> np.ndarray:
        """The part index nearest each point (int32)."""
        return self.nearest(points)[1]

    def pieces(self) -> list[tuple[int, object]]:
        """(part index, low-poly piece) for every piece, cached."""
        if self._pieces is None:
            self._pieces = [(i, piece) for i, part in enumerate(self.parts) for piece in part.shape.pieces()]
        return self._pieces

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Axis-aligned bounds of the low-poly build (the SDF surface lies within a few mm of it)."""
        verts = np.concatenate([p.vertices for _, p in self.pieces()])
        return verts.min(0), verts.max(0)

    def artist_mesh(self) -> MeshPayload:
        """The low-poly artist mesh: separate pieces, quads and n-gons, packed UVs, one part and
        material per semantic part."""
        positions, v_total, sizes, idx, uv, island, part_ids = [], 0, [], [], [], [], []
        island_base = 0
        for part, piece in self.pieces():
            sizes.append(piece.face_sizes)
            idx.append(piece.face_indices + v_total)
            uv.append(piece.corner_uv)
            island.append(np.repeat(piece.face_island + island_base, piece.face_sizes))
            island_base += int(piece.face_island.max()) + 1
            part_ids.append(np.full(len(piece.face_sizes), part))
            positions.append(piece.vertices)
            v_total += len(piece.vertices)
        materials: list[Material] = []
        part_materials = []
        for part in self.parts:
            key = part.material.to_json()
            found = next((i for i, m in enumerate(materials) if m.to_json() == key), None)
            if found is None:
                materials.append(part.material)
                found = len(materials) - 1
            part_materials.append(found)
        return MeshPayload(
            positions=np.concatenate(positions).astype(np.float32),
            face_sizes=np.concatenate(sizes).astype(np.int32),
            face_indices=np.concatenate(idx).astype(np.int32),
            corner_uvs=pack_islands(np.concatenate(uv), np.concatenate(island)),
            part_ids=np.concatenate(part_ids).astype(np.int32),
            part_names=self.part_names, part_materials=part_materials, materials=materials)

    def describe(self) -> dict:
        """JSON-able facts about the asset (for dataset metadata and captions)."""
        return {"category": self.category, "noun": self.noun, "features": list(self.features),
                "options": dict(self.options), "size": self.size_word, "height": self.height_word,
                "color": self.color_word, "material": self.primary_family,
                "parts": [{"name": p.name, "family": p.family, "material": p.material.to_json(),
                           "primary": p.primary} for p in self.parts]}


class AssetBuilder:
    """Collects parts while a category builder runs."""

    def __init__(self, category: str, draw: Draw, noun: str | None = None):
        self.category = category
        self.noun = noun or category.replace("_", " ")
        self.draw = draw
        self.features: list[str] = []
        self._parts: dict[str, list] = {}
        self._variants: dict[str, int] = {}
        self._primary_family: str | None = None
        self._paint: dict[str, str | None] = {}

    def part(self, name: str, family: str, *shapes: Shape, primary: bool = False) -> None:
        """Add shapes to part ``name`` (created on first use) made of material ``family``.

        Primary parts carry the object's main material: a prompt's colour repaints them.
        """
        if family not in FAMILIES:
            raise KeyError(f"unknown material family {family!r}")
        if not shapes:
            raise ValueError(f"part {name!r} needs at least one shape")
        if name in self._parts:
            if self._parts[name][0] != family:
                raise ValueError(f"part {name!r} already uses {self._parts[name][0]}")
            self._parts[name][1].extend(shapes)
        else:
            self._parts[name] = [family, list(shapes), primary]
        if primary and self._primary_family is None:
            self._primary_family = family

    def feature(self, phrase: str) -> None:
        """A caption phrase such as 'four legs' or 'a slatted back'."""
        self.features.append(phrase)

    def paint(self, family: str, probability: float) -> None:
        """Let parts of ``family`` take a random palette colour with ``probability`` (fabric, plastic)."""
        from .materials import COLORS
        names = sorted(COLORS)
        self._paint[family] = names[self.draw.integer(0, len(names) - 1)] if self.draw.chance(probability) else None

    def finish(self) -> Asset:
        """The asset, placed on the ground plane and centred in x/y."""
        if not self._parts:
            raise ValueError(f"{self.category}: builder produced no parts")
        hinted = self.draw.hints.color
        parts = []
        for name, (family, shapes, primary) in self._parts.items():
            if family not in self._variants:
                self._variants[family] = self.draw.integer(0, len(FAMILIES[family].variants) - 1)
            color = hinted if (primary and hinted) else self._paint.get(family)
            mat = material(family, self._variants[family], color)
            shape = shapes[0] if len(shapes) == 1 else Union(*shapes)
            parts.append(Part(name, family, mat, shape, primary))
        primary_family = self._primary_family or parts[0].family
        probe = Asset(self.category, self.noun, parts, [], {}, None, None, None, primary_family)
        lo, hi = probe.bounds()
        shift = np.array([-(lo[0] + hi[0]) / 2, -(lo[1] + hi[1]) / 2, -lo[2]])
        for p in parts:
            p.shape = Placed(p.shape, np.eye(3), shift)
        main = next((p for p in parts if p.primary), parts[0])
        color_word = hinted or self._paint.get(main.family) or nearest_color_name(main.material.base_color)
        return Asset(self.category, self.noun, parts, list(self.features), dict(self.draw.options),
                     self.draw.size_word(), self.draw.height_word(), color_word, primary_family)
