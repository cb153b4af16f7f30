"""Signed distances for real (often open, not watertight) game meshes, as the VAE trains on them.

Game meshes have holes, open sheets (leaves, cloth, sails) and overlapping pieces, so "inside"
is not defined by the triangles alone. The solid used here is the mesh thickened by one grid
cell ``h`` plus every region it encloses:

1. normalise as the procedural data (bounding box centred, longest side spans [-0.9, 0.9]);
2. unsigned distance ``udf`` on a grid of voxel centres over [-1, 1]^3: exact nearest-sample
   distance (k-d tree over dense surface samples) within 3 cells of the surface, a Euclidean
   distance transform farther out;
3. exterior = the voxels with ``udf > h`` connected to the grid border (flood fill), so holes
   narrower than a cell do not leak; everything else is solid;
4. signed field ``f = udf - h`` on the exterior side, ``-(udf + h)`` on the enclosed side (each
   voxel takes the side it is nearer to), negative inside; its zero level is the outer offset
   surface at distance ``h``, watertight by construction;
5. query points get ``f`` by trilinear interpolation; surface points are area-weighted samples of
   the marching-cubes mesh of ``f`` with normals from its interpolated gradient.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from backend.procedural.sample import HALF_EXTENT


@dataclass(frozen=True)
class SolidConfig:
    """Grid resolution and point counts (the same names as ``SampleConfig``)."""

    resolution: int = 96
    dense: int = 200_000
    surface: int = 4096
    near: int = 4096
    far: int = 2048
    near_sigmas: tuple[float, ...] = (0.005, 0.02, 0.06)


@dataclass
class Solid:
    """A normalised mesh's signed field on a grid; ``sdf(points)`` interpolates it."""

    field: np.ndarray        # (R,R,R) signed distance at voxel centres, negative inside
    cell: float              # grid spacing h
    center: np.ndarray       # (3,) of the original mesh, metres = p / scale + center
    scale: float

    def sdf(self, points: np.ndarray) -> np.ndarray:
        from scipy.ndimage import map_coordinates
        index = (np.asarray(points, dtype=np.float64) + 1.0) / self.cell - 0.5
        return map_coordinates(self.field, index.T, order=1, mode="nearest")

    def gradient(self, points: np.ndarray) -> np.ndarray:
        from scipy.ndimage import map_coordinates
        index = (np.asarray(points, dtype=np.float64) + 1.0) / self.cell - 0.5
        grads = np.gradient(self.field, self.cell)
        g = np.stack([map_coordinates(d, index.T, order=1, mode="nearest") for d in grads], axis=-1)
        return g / np.maximum(np.linalg.norm(g, axis=-1, keepdims=True), 1e-12)

    def mesh(self) -> tuple[np.ndarray, np.ndarray]:
        """Marching-cubes mesh of the zero level (normalised coordinates), outward facing."""
        from skimage.measure import marching_cubes
        vertices, faces, _, _ = marching_cubes(self.field, 0.0, spacing=(self.cell,) * 3)
        return (vertices - 1.0 + 0.5 * self.cell).astype(np.float32), faces[:, ::-1].astype(np.int32)


def normalise(vertices: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """(normalised vertices, center, scale): bounding box centred, longest side 2 * HALF_EXTENT."""
    lo, hi = vertices.min(0), vertices.max(0)
    center = (lo + hi) / 2
    extent = float((hi - lo).max())
    if not np.isfinite(extent) or extent <= 0:
        raise ValueError("the mesh has no extent")
    scale = 2 * HALF_EXTENT / extent
    return (vertices - center) * scale, center, scale


def surface_points(vertices: np.ndarray, faces: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` area-weighted random points on the triangles."""
    tri = vertices[faces]
    area = 0.5 * np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1)
    if not np.isfinite(area).all() or area.sum() <= 0:
        raise ValueError("the mesh has no surface area")
    pick = rng.choice(len(faces), size=count, p=area / area.sum())
    u, v = rng.random(count), rng.random(count)
    flip = u + v > 1
    u[flip], v[flip] = 1 - u[flip], 1 - v[flip]
    t = tri[pick]
    return t[:, 0] + u[:, None] * (t[:, 1] - t[:, 0]) + v[:, None] * (t[:, 2] - t[:, 0])


def solidify(vertices: np.ndarray, faces: np.ndarray, config: SolidConfig = SolidConfig(), seed: int = 0,
             cancel=None) -> Solid:
    """The thickened, hole-tolerant solid of a triangle soup (see the module docstring)."""
    from scipy import ndimage
    from scipy.spatial import cKDTree

    normalised, center, scale = normalise(np.asarray(vertices, dtype=np.float64))
    rng = np.random.default_rng(seed)
    dense = surface_points(normalised, np.asarray(faces), config.dense, rng)
    r = config.resolution
    h = 2.0 / r
    cells = np.clip(((dense + 1.0) / h).astype(np.int64), 0, r - 1)
    occupied = np.zeros((r, r, r), dtype=bool)
    occupied[cells[:, 0], cells[:, 1], cells[:, 2]] = True
    udf = ndimage.distance_transform_edt(~occupied) * h
    if cancel is not None:
        cancel.check()
    band = np.nonzero(udf <= 3 * h)
    centres = (np.stack(band, axis=-1) + 0.5) * h - 1.0
    udf[band] = cKDTree(dense).query(centres, workers=1)[0]
    passable = udf > h
    labels, _ = ndimage.label(passable)
    border = np.unique(np.concatenate([labels[[0, -1]].ravel(), labels[:, [0, -1]].ravel(), labels[:, :, [0, -1]].ravel()]))
    exterior = np.isin(labels, border[border > 0])
    enclosed = passable & ~exterior
    field = udf - h
    if enclosed.any():
        to_exterior = ndimage.distance_transform_edt(~exterior)
        to_enclosed = ndimage.distance_transform_edt(~enclosed)
        inner = ~exterior & (to_enclosed < to_exterior)
        field[inner] = -(udf[inner] + h)
    if not (field < 0).any():
        raise ValueError("the mesh encloses nothing at this resolution")
    return Solid(field.astype(np.float32), h, center, scale)


def mesh_sample(vertices: np.ndarray, faces: np.ndarray, config: SolidConfig = SolidConfig(), seed: int = 0,
                cancel=None) -> dict:
    """Arrays in the procedural dataset's layout (``backend.procedural.sample``) for one real mesh;
    part labels are all 0 (one part) and occupancy follows the sign."""
    solid = solidify(vertices, faces, config, seed, cancel)
    rng = np.random.default_rng(seed + 1)
    mesh_v, mesh_f = solid.mesh()
    surface = surface_points(mesh_v.astype(np.float64), mesh_f, config.surface, rng)
    normals = solid.gradient(surface)
    anchors = surface_points(mesh_v.astype(np.float64), mesh_f, config.near, rng)
    sigmas = np.repeat(np.asarray(config.near_sigmas), -(-config.near // len(config.near_sigmas)))[:config.near]
    near = np.clip(anchors + rng.normal(size=(config.near, 3)) * sigmas[:, None], -1.0, 1.0)
    far = rng.uniform(-1.0, 1.0, size=(config.far, 3))
    near_sdf, far_sdf = solid.sdf(near), solid.sdf(far)
    f32 = np.float32
    return {
        "surface_points": surface.astype(f32), "surface_normals": normals.astype(f32),
        "surface_labels": np.zeros(config.surface, np.int32),
        "near_points": near.astype(f32), "near_sdf": near_sdf.astype(f32),
        "near_occupancy": (near_sdf < 0).astype(np.uint8), "near_labels": np.zeros(config.near, np.int32),
        "far_points": far.astype(f32), "far_sdf": far_sdf.astype(f32),
        "far_occupancy": (far_sdf < 0).astype(np.uint8), "far_labels": np.zeros(config.far, np.int32),
        "center": solid.center.astype(f32), "scale": f32(solid.scale),
        "mesh_vertices": mesh_v, "mesh_faces": mesh_f, "mesh_face_labels": np.zeros(len(mesh_f), np.int32),
    }
