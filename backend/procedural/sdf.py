"""Analytic signed distance functions: primitives, rigid placement, CSG and smooth blends.

Every :class:`Shape` answers two questions about the same solid:

* ``distance(points (N,3)) -> (N,)``: the signed distance, negative inside, vectorised. Primitives
  are exact; unions are exact outside and a bound inside; smooth blends are bounds.
* ``pieces() -> list[Piece]``: the solid as separate low-poly polygon pieces (see ``lowpoly.py``),
  the way a modeller would build it; differences go through manifold3d's mesh booleans.

Primitives sit at the origin in a canonical pose (z is the axis of lathes and extrusions); place
them with ``.at(x, y, z)`` and ``.rotated(axis, angle)``, which compose rigid transforms (so
distances stay exact). Units are metres, z up.
"""
from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

from .lowpoly import (Piece, box_piece, extrusion_piece, hull_piece, lathe_piece, orient_outward,
                      torus_piece)

_CHUNK = 65536


def polygon_distance(q: np.ndarray, poly: np.ndarray, hidden=None) -> np.ndarray:
    """Signed distance from 2-D points (N,2) to a closed simple polygon (M,2); negative inside.

    ``hidden[i]`` True leaves edge i -> i+1 out of the distance (it still bounds the inside):
    a lathe's edges on the axis are not surfaces.
    """
    px, py = q[:, 0], q[:, 1]
    d2 = np.full(len(q), np.inf)
    inside = np.zeros(len(q), dtype=bool)
    hidden = np.zeros(len(poly), dtype=bool) if hidden is None else hidden
    for (ax, ay), (bx, by), skip in zip(poly, np.roll(poly, -1, axis=0), hidden):
        ex, ey = bx - ax, by - ay
        wx, wy = px - ax, py - ay
        if not skip:
            t = np.clip((wx * ex + wy * ey) / max(ex * ex + ey * ey, 1e-30), 0.0, 1.0)
            dx, dy = wx - ex * t, wy - ey * t
            np.minimum(d2, dx * dx + dy * dy, out=d2)
        c1, c2, c3 = py >= ay, py < by, ex * wy > ey * wx  # winding-number crossing test
        inside ^= (c1 & c2 & c3) | ~(c1 | c2 | c3)
    return np.where(inside, -1.0, 1.0) * np.sqrt(d2)


def rotation(axis, angle: float) -> np.ndarray:
    """The 3x3 rotation by ``angle`` radians about ``axis`` ('x', 'y', 'z' or a 3-vector)."""
    if isinstance(axis, str):
        axis = {"x": (1, 0, 0), "y": (0, 1, 0), "z": (0, 0, 1)}[axis]
    k = np.asarray(axis, dtype=np.float64)
    k = k / np.linalg.norm(k)
    kx = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.eye(3) + np.sin(angle) * kx + (1 - np.cos(angle)) * kx @ kx


def align_z(direction) -> np.ndarray:
    """A rotation taking +z onto ``direction``."""
    d = np.asarray(direction, dtype=np.float64)
    d = d / np.linalg.norm(d)
    axis = np.cross([0.0, 0.0, 1.0], d)
    s = np.linalg.norm(axis)
    if s < 1e-12:
        return np.eye(3) if d[2] > 0 else rotation("x", np.pi)
    return rotation(axis, np.arctan2(s, d[2]))


class Shape(ABC):
    """A solid with an analytic signed distance and a low-poly polygon build."""

    @abstractmethod
    def distance(self, points: np.ndarray) -> np.ndarray:
        """Signed distance at (N,3) points: negative inside."""

    @abstractmethod
    def pieces(self) -> list[Piece]:
        """The low-poly polygon pieces that model this solid."""

    def at(self, x: float = 0.0, y: float = 0.0, z: float = 0.0) -> "Shape":
        """This shape translated by (x, y, z)."""
        return Placed(self, np.eye(3), np.array([x, y, z], dtype=np.float64))

    def rotated(self, axis, angle: float) -> "Shape":
        """This shape rotated about the origin."""
        return Placed(self, rotation(axis, angle), np.zeros(3))

    def __call__(self, points: np.ndarray) -> np.ndarray:
        return self.distance(np.asarray(points, dtype=np.float64).reshape(-1, 3))


class Primitive(Shape):
    """A shape with one low-poly piece whose faces are oriented by the shape's own SDF."""

    @abstractmethod
    def build_piece(self) -> Piece:
        """The one low-poly piece of this primitive (orientation fixed by :meth:`pieces`)."""

    def pieces(self) -> list[Piece]:
        return [orient_outward(self.build_piece(), self.distance)]


class Placed(Shape):
    """A child under a rigid transform x -> R x + t (composes with further placements)."""

    def __init__(self, child: Shape, rot: np.ndarray, shift: np.ndarray):
        if isinstance(child, Placed):
            rot, shift = rot @ child.rot, rot @ child.shift + shift
            child = child.child
        self.child, self.rot, self.shift = child, rot, shift
        self.turned = not np.allclose(rot, np.eye(3))

    def distance(self, points):
        local = points - self.shift
        if self.turned:  # (p - t) R by columns: a BLAS matmul would spin threads for a 3x3
            x, y, z = local[:, 0:1], local[:, 1:2], local[:, 2:3]
            local = x * self.rot[0] + y * self.rot[1] + z * self.rot[2]
        return self.child.distance(local)

    def pieces(self):
        return [p.transformed(self.rot, self.shift) for p in self.child.pieces()]


    def at(self, x=0.0, y=0.0, z=0.0):
        return Placed(self.child, self.rot, self.shift + np.array([x, y, z], dtype=np.float64))

    def rotated(self, axis, angle):
        r = rotation(axis, angle)
        return Placed(self.child, r @ self.rot, r @ self.shift)


class Box(Primitive):
    """A box of full ``size`` (x, y, z) centred at the origin, edges rounded by ``radius``."""

    def __init__(self, size, radius: float = 0.0):
        self.half = np.asarray(size, dtype=np.float64) / 2
        if np.any(self.half <= 0):
            raise ValueError(f"box size must be positive, got {size}")
        self.radius = min(radius, float(self.half.min()))

    def distance(self, points):
        h = self.half - self.radius
        qx = np.abs(points[:, 0]) - h[0]
        qy = np.abs(points[:, 1]) - h[1]
        qz = np.abs(points[:, 2]) - h[2]
        ox, oy, oz = np.maximum(qx, 0.0), np.maximum(qy, 0.0), np.maximum(qz, 0.0)
        inside = np.minimum(np.maximum(np.maximum(qx, qy), qz), 0.0)
        return np.sqrt(ox * ox + oy * oy + oz * oz) + inside - self.radius

    def build_piece(self):
        return box_piece(self.half * 2)



class Lathe(Primitive):
    """A solid of revolution about z: a closed (r, z) profile polygon with r >= 0, revolved.

    Covers cylinders, cones, spheres (a polygonal arc), cups and vases (a profile with a wall).
    """

    def __init__(self, profile, segments: int = 16):
        profile = np.asarray(profile, dtype=np.float64)
        if profile.ndim != 2 or profile.shape[1] != 2 or len(profile) < 3 or profile[:, 0].min() < 0:
            raise ValueError("a lathe profile is (K>=3, 2) points (r, z) with r >= 0")
        area = 0.5 * np.sum(profile[:, 0] * np.roll(profile[:, 1], -1) - np.roll(profile[:, 0], -1) * profile[:, 1])
        self.profile = profile if area > 0 else profile[::-1]
        self.segments = int(segments)
        on_axis = self.profile[:, 0] <= 1e-12
        self.axis_edges = on_axis & np.roll(on_axis, -1)

    def distance(self, points):
        # nudge points off the axis: on it, the inside test would sit exactly on an (axis) edge
        r = np.hypot(points[:, 0], points[:, 1]) + 1e-12
        return polygon_distance(np.stack([r, points[:, 2]], axis=1), self.profile, self.axis_edges)

    def build_piece(self):
        return lathe_piece(self.profile, self.segments)



class Extrusion(Primitive):
    """A convex (x, y) polygon extruded along z by ``height``, centred."""

    def __init__(self, polygon, height: float):
        polygon = np.asarray(polygon, dtype=np.float64)
        area = 0.5 * np.sum(polygon[:, 0] * np.roll(polygon[:, 1], -1) - np.roll(polygon[:, 0], -1) * polygon[:, 1])
        self.polygon = polygon if area > 0 else polygon[::-1]
        self.half_height = height / 2

    def distance(self, points):
        d2 = polygon_distance(points[:, :2], self.polygon)
        dz = np.abs(points[:, 2]) - self.half_height
        w = np.stack([d2, dz], axis=1)
        return np.minimum(w.max(1), 0.0) + np.linalg.norm(np.maximum(w, 0.0), axis=1)

    def build_piece(self):
        return extrusion_piece(self.polygon, 2 * self.half_height)



class Torus(Primitive):
    """A torus in the xy plane (major radius, tube radius); ``arc`` < 2 pi keeps the arc around +y."""

    def __init__(self, major: float, minor: float, arc: float = 2 * np.pi, segments: int = 16, sides: int = 8):
        self.major, self.minor, self.arc = major, minor, min(arc, 2 * np.pi)
        self.segments, self.sides = segments, sides

    def distance(self, points):
        x, y, z = np.abs(points[:, 0]), points[:, 1], points[:, 2]
        tube = np.hypot(np.hypot(x, y) - self.major, z) - self.minor
        if self.arc >= 2 * np.pi - 1e-9:
            return tube
        # the arc is symmetric about +y; fold x and cut by the plane through the z axis and the
        # right end (normal t = its outward tangent); beyond it, measure to the flat end disc
        half = self.arc / 2
        t = np.array([np.cos(half), -np.sin(half)])
        centre = self.major * np.array([np.sin(half), np.cos(half)])
        s = x * t[0] + y * t[1]
        qx, qy = x - s * t[0] - centre[0], y - s * t[1] - centre[1]
        radial = np.sqrt(qx * qx + qy * qy + z * z)
        disc = np.where(radial <= self.minor, s, np.hypot(s, radial - self.minor))
        return np.where(s > 0, disc, np.where(tube < 0, np.maximum(tube, s), tube))

    def build_piece(self):
        return torus_piece(self.major, self.minor, self.arc, self.segments, self.sides)



class Hull(Primitive):
    """The convex hull of a point set (rocks, gems): SDF = max of the face planes."""

    def __init__(self, points):
        self.piece, self.planes = hull_piece(np.asarray(points, dtype=np.float64))

    def distance(self, points):
        out = np.empty(len(points))
        for s in range(0, len(points), _CHUNK):
            p = points[s:s + _CHUNK]
            out[s:s + _CHUNK] = (p @ self.planes[:, :3].T - self.planes[:, 3]).max(1)
        return out

    def build_piece(self):
        return self.piece



def nearest(children, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(minimum distance over ``children``, index of the nearest child) at ``points``."""
    best = np.full(len(points), np.inf)
    which = np.zeros(len(points), dtype=np.int32)
    for i, child in enumerate(children):
        d = child.distance(points)
        closer = d < best
        best[closer], which[closer] = d[closer], i
    return best, which


class Union(Shape):
    """The union of shapes (hard minimum)."""

    def __init__(self, *children: Shape):
        if not children:
            raise ValueError("a union needs at least one shape")
        self.children = children

    def distance(self, points):
        return nearest(self.children, points)[0]

    def pieces(self):
        return [p for c in self.children for p in c.pieces()]



class SmoothUnion(Union):
    """A union whose seams are filleted over ``k`` metres (polynomial smooth minimum)."""

    def __init__(self, *children: Shape, k: float = 0.02):
        super().__init__(*children)
        self.k = k

    def distance(self, points):
        d = self.children[0].distance(points)
        for c in self.children[1:]:
            e = c.distance(points)
            h = np.maximum(self.k - np.abs(d - e), 0.0) / self.k
            d = np.minimum(d, e) - h * h * self.k * 0.25
        return d


class Difference(Shape):
    """``base`` minus ``cutters`` (holes, slots, recesses); the low-poly build is a manifold3d
    boolean of the pieces, so it stays closed."""

    def __init__(self, base: Shape, *cutters: Shape):
        if not cutters:
            raise ValueError("a difference needs at least one cutter")
        self.base, self.cutters = base, cutters

    def distance(self, points):
        d = self.base.distance(points)
        for cutter in self.cutters:
            d = np.maximum(d, -cutter.distance(points))
        return d

    def pieces(self):
        from .boolean import difference_piece
        return [difference_piece(self.base.pieces(), [p for c in self.cutters for p in c.pieces()])]


# ------------------------------------------------------------------------------------------------
# Convenience constructors used by the category modules.

def cylinder(radius: float, height: float, segments: int = 16, bevel: float = 0.0) -> Lathe:
    """A z-axis cylinder from z=0 to z=height (optionally with chamfered rims)."""
    if bevel > 0:
        b = min(bevel, radius / 2, height / 2)
        return Lathe([(0, 0), (radius - b, 0), (radius, b), (radius, height - b), (radius - b, height),
                      (0, height)], segments)
    return Lathe([(0, 0), (radius, 0), (radius, height), (0, height)], segments)


def frustum(r_bottom: float, r_top: float, height: float, segments: int = 16) -> Lathe:
    """A z-axis truncated cone from z=0 to z=height (r_top may be 0: a cone)."""
    pts = [(0, 0), (r_bottom, 0)] + ([(r_top, height)] if r_top > 0 else []) + [(0, height)]
    return Lathe(pts, segments)


def sphere(radius: float, segments: int = 12, rings: int = 6) -> Lathe:
    """A UV sphere centred at the origin (the SDF follows the polygonal meridian exactly)."""
    a = np.linspace(-np.pi / 2, np.pi / 2, rings + 1)
    pts = np.c_[np.cos(a) * radius, np.sin(a) * radius]
    pts[0, 0] = pts[-1, 0] = 0.0
    return Lathe(pts, segments)


def rod(start, end, radius: float, segments: int = 8) -> Shape:
    """A cylinder between two points (legs, rails, branches)."""
    start, end = np.asarray(start, dtype=np.float64), np.asarray(end, dtype=np.float64)
    length = float(np.linalg.norm(end - start))
    return Placed(cylinder(radius, length, segments), align_z(end - start), start)


def box(size, center=(0.0, 0.0, 0.0), radius: float = 0.0) -> Shape:
    """A box of full ``size`` centred at ``center``."""
    return Box(size, radius).at(*center)


def slab(x0: float, x1: float, y0: float, y1: float, z0: float, z1: float, radius: float = 0.0) -> Shape:
    """A box spanning [x0,x1] x [y0,y1] x [z0,z1]."""
    return box((x1 - x0, y1 - y0, z1 - z0), ((x0 + x1) / 2, (y0 + y1) / 2, (z0 + z1) / 2), radius)


def revolve_wall(outer, thickness: float, bottom: float, segments: int = 16) -> Lathe:
    """A hollow vessel: an outer (r, z) curve from the base rim up to the lip (z increasing), a wall
    of ``thickness`` and a floor of ``bottom`` thickness (cups, vases, pots, bowls, shades)."""
    outer = np.asarray(outer, dtype=np.float64)
    z0, lip = outer[0, 1], outer[-1, 1]
    floor = z0 + bottom
    wall = lambda r: max(r - thickness, thickness * 0.5)  # noqa: E731 - inner radius of a wall point
    inner = [(wall(r), z) for r, z in outer[::-1] if floor + 1e-6 < z < lip - 1e-6]
    floor_r = wall(float(np.interp(floor, outer[:, 1], outer[:, 0])))
    profile = ([(0.0, z0)] + [tuple(p) for p in outer] + [(wall(outer[-1, 0]), lip)] + inner
               + [(floor_r, floor), (0.0, floor)])
    return Lathe(profile, segments)


def shell(outer, thickness: float, segments: int = 16) -> Lathe:
    """An open surface of revolution with a wall (lamp shades, rings, pipes): the outer (r, z)
    curve, z increasing, offset inward by ``thickness``; open at both ends."""
    outer = np.asarray(outer, dtype=np.float64)
    inner = np.c_[np.maximum(outer[::-1, 0] - thickness, 1e-4), outer[::-1, 1]]
    return Lathe(np.concatenate([outer, inner]), segments)
