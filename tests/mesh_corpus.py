"""The test mesh corpus: real meshes shipped by packages, Blender-like primitives, and broken meshes.

Stable API (other areas' tests import it)::

    names(kind="default") -> list[str]   # kinds: real, primitive, broken, large, default, all
    load(name) -> MeshPayload            # a fresh copy each call; Blender axes, metres
    describe(name) -> str                # one line: where the mesh comes from / what is wrong with it

Real meshes come from pymeshlab's ``tests/sample_meshes`` and pymeshfix's examples (installed
packages, nothing downloaded). Primitives follow Blender's defaults (quads, triangle fans at the UV
sphere's poles, n-gon cylinder caps). Broken meshes are built from those with known defects.
``large`` (1M faces) is for slow tests only.
"""
from __future__ import annotations

import functools
import importlib.util
import math
from pathlib import Path

import numpy as np

from shared.payload import MeshPayload


def _package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or spec.origin is None:
        raise FileNotFoundError(f"package {name} is not installed (pip install -e '.[dev]')")
    return Path(spec.origin).parent


def _file_mesh(package: str, relative: str) -> MeshPayload:
    import trimesh

    path = _package_dir(package) / relative
    mesh = trimesh.load(str(path), force="mesh", process=False)
    return MeshPayload.from_triangles(mesh.vertices, mesh.faces)


def _polygons(vertices, polygons) -> MeshPayload:
    sizes = np.array([len(p) for p in polygons], dtype=np.int32)
    return MeshPayload(positions=np.asarray(vertices, dtype=np.float32),
                       face_sizes=sizes, face_indices=np.concatenate(polygons).astype(np.int32))


# ------------------------------------------------------------------------------------------------
# Blender-like primitives (same topology as Blender's Add > Mesh defaults)

def _grid_quads(rows: int, cols: int, wrap_cols: bool, wrap_rows: bool = False) -> list[list[int]]:
    quads = []
    row_count = rows if wrap_rows else rows - 1
    col_count = cols if wrap_cols else cols - 1
    for r in range(row_count):
        for c in range(col_count):
            a = r * cols + c
            b = r * cols + (c + 1) % cols
            d = ((r + 1) % rows) * cols + c
            e = ((r + 1) % rows) * cols + (c + 1) % cols
            quads.append([a, b, e, d])
    return quads


def cube(size: float = 2.0) -> MeshPayload:
    """Blender's default cube: 8 vertices, 6 quads."""
    h = size / 2
    v = [[x, y, z] for x in (-h, h) for y in (-h, h) for z in (-h, h)]
    faces = [[0, 1, 3, 2], [4, 6, 7, 5], [0, 4, 5, 1], [2, 3, 7, 6], [0, 2, 6, 4], [1, 5, 7, 3]]
    return _polygons(v, faces)


def uv_sphere(segments: int = 32, rings: int = 16, radius: float = 1.0) -> MeshPayload:
    """Blender's UV sphere: quad bands and triangle fans at both poles."""
    verts = [[0, 0, radius]]
    for r in range(1, rings):
        theta = math.pi * r / rings
        for s in range(segments):
            phi = 2 * math.pi * s / segments
            verts.append([radius * math.sin(theta) * math.cos(phi), radius * math.sin(theta) * math.sin(phi),
                          radius * math.cos(theta)])
    verts.append([0, 0, -radius])
    bottom = len(verts) - 1
    faces = [[0, 1 + s, 1 + (s + 1) % segments] for s in range(segments)]
    faces += [[1 + q for q in quad][::-1] for quad in _grid_quads(rings - 1, segments, wrap_cols=True)]
    last = 1 + (rings - 2) * segments
    faces += [[bottom, last + (s + 1) % segments, last + s] for s in range(segments)]
    return _polygons(verts, faces)


def cylinder(vertices: int = 32, radius: float = 1.0, depth: float = 2.0) -> MeshPayload:
    """Blender's cylinder: side quads and two n-gon caps."""
    ang = 2 * np.pi * np.arange(vertices) / vertices
    ring = np.stack([radius * np.cos(ang), radius * np.sin(ang)], axis=1)
    verts = np.concatenate([np.c_[ring, np.full(vertices, -depth / 2)], np.c_[ring, np.full(vertices, depth / 2)]])
    faces = [[i, (i + 1) % vertices, vertices + (i + 1) % vertices, vertices + i] for i in range(vertices)]
    faces.append(list(range(vertices))[::-1])
    faces.append(list(range(vertices, 2 * vertices)))
    return _polygons(verts, faces)


def cone(vertices: int = 32, radius: float = 1.0, depth: float = 2.0) -> MeshPayload:
    """Blender's cone: a triangle fan to the tip and an n-gon base."""
    ang = 2 * np.pi * np.arange(vertices) / vertices
    verts = np.concatenate([np.c_[radius * np.cos(ang), radius * np.sin(ang), np.full(vertices, -depth / 2)],
                            [[0, 0, depth / 2]]])
    faces = [[i, (i + 1) % vertices, vertices] for i in range(vertices)]
    faces.append(list(range(vertices))[::-1])
    return _polygons(verts, faces)


def torus(major_segments: int = 48, minor_segments: int = 12, major: float = 1.0, minor: float = 0.25) -> MeshPayload:
    """Blender's torus (genus 1): a wrapped quad grid."""
    u = 2 * np.pi * np.arange(major_segments) / major_segments
    v = 2 * np.pi * np.arange(minor_segments) / minor_segments
    uu, vv = np.meshgrid(u, v, indexing="ij")
    verts = np.stack([(major + minor * np.cos(vv)) * np.cos(uu), (major + minor * np.cos(vv)) * np.sin(uu),
                      minor * np.sin(vv)], axis=-1).reshape(-1, 3)
    quads = _grid_quads(major_segments, minor_segments, wrap_cols=True, wrap_rows=True)
    return _polygons(verts, [q[::-1] for q in quads])


def grid(size: int = 10) -> MeshPayload:
    """Blender's grid: an open, flat quad patch (has a boundary)."""
    xs = np.linspace(-1, 1, size)
    xx, yy = np.meshgrid(xs, xs, indexing="ij")
    verts = np.stack([xx, yy, np.zeros_like(xx)], axis=-1).reshape(-1, 3)
    return _polygons(verts, _grid_quads(size, size, wrap_cols=False))


def _manifold_payload(solid) -> MeshPayload:
    mesh = solid.to_mesh()
    return MeshPayload.from_triangles(np.asarray(mesh.vert_properties)[:, :3], np.asarray(mesh.tri_verts))


def bracket() -> MeshPayload:
    """A CAD-like part: a block with a through hole and a notch (genus 1, sharp edges)."""
    import manifold3d as mf

    block = mf.Manifold.cube([2.0, 1.0, 0.6], True)
    hole = mf.Manifold.cylinder(1.0, 0.25, 0.25, 48, True)
    notch = mf.Manifold.cube([0.6, 0.4, 1.0], True).translate([0.9, 0.4, 0.0])
    return _manifold_payload(block - hole.translate([-0.4, 0, 0]) - notch)


def _concat(meshes: list[MeshPayload]) -> MeshPayload:
    offsets = np.cumsum([0] + [m.num_vertices for m in meshes[:-1]])
    return MeshPayload(positions=np.concatenate([m.positions for m in meshes]).astype(np.float32),
                       face_sizes=np.concatenate([m.face_sizes for m in meshes]).astype(np.int32),
                       face_indices=np.concatenate([m.face_indices + o for m, o in zip(meshes, offsets)]
                                                   ).astype(np.int32))


def _moved(mesh: MeshPayload, offset, scale: float = 1.0) -> MeshPayload:
    return MeshPayload(positions=(mesh.positions * scale + np.asarray(offset, np.float32)).astype(np.float32),
                       face_sizes=mesh.face_sizes.copy(), face_indices=mesh.face_indices.copy())


# ------------------------------------------------------------------------------------------------
# Broken meshes with known defects

def nonmanifold_fin() -> MeshPayload:
    """A sphere with two fins glued to one of its edges: that edge has 4 faces (non-manifold)."""
    base = uv_sphere(24, 12)
    tris = base.triangulated()
    a, b = tris[40, 0], tris[40, 1]
    pa, pb = base.positions[a], base.positions[b]
    mid = (pa + pb) / 2
    normal = mid / np.linalg.norm(mid)
    tips = np.array([mid + 0.3 * normal + [0.0, 0.05, 0.0], mid + 0.3 * normal - [0.0, 0.05, 0.0]], np.float32)
    positions = np.concatenate([base.positions, tips])
    n = len(base.positions)
    fins = np.array([[a, b, n], [b, a, n + 1]], np.int32)
    return MeshPayload.from_triangles(positions, np.concatenate([tris, fins]))


def holes() -> MeshPayload:
    """The bunny with three patches of faces removed (open boundaries)."""
    mesh = load("bunny")
    tris = mesh.triangulated()
    centroids = mesh.positions[tris].mean(axis=1)
    keep = np.ones(len(tris), bool)
    rng = np.random.default_rng(7)
    for centre in rng.choice(len(tris), 3, replace=False):
        keep &= np.linalg.norm(centroids - centroids[centre], axis=1) > 0.03
    return MeshPayload.from_triangles(mesh.positions, tris[keep])


def many_components() -> MeshPayload:
    """A torus plus 40 small spheres and 200 loose debris triangles: 241 components."""
    rng = np.random.default_rng(3)
    parts = [torus()]
    for _ in range(40):
        parts.append(_moved(uv_sphere(8, 6), rng.uniform(-1.5, 1.5, 3), scale=float(rng.uniform(0.03, 0.12))))
    debris = rng.uniform(-1.5, 1.5, (200, 1, 3)) + rng.normal(scale=0.01, size=(200, 3, 3))
    parts.append(MeshPayload.from_triangles(debris.reshape(-1, 3), np.arange(600).reshape(-1, 3)))
    return _concat(parts)


def degenerate() -> MeshPayload:
    """A sphere with zero-area faces, repeated-vertex faces, duplicated faces and unused vertices."""
    base = uv_sphere(24, 12)
    tris = base.triangulated()
    n = len(base.positions)
    collinear = np.array([[0, 0, 1.0], [0, 0, 1.0 + 1e-9], [0, 0, 1.0 + 2e-9]], np.float32)
    positions = np.concatenate([base.positions, collinear, np.full((5, 3), 7.0, np.float32)])
    bad = [[n, n + 1, n + 2], [5, 5, 6], [9, 10, 9]]
    return MeshPayload.from_triangles(positions, np.concatenate([tris, tris[:30], np.array(bad)]))


def soup() -> MeshPayload:
    """The cow as an unwelded triangle soup (every triangle owns its 3 vertices), like an STL."""
    mesh = load("cow")
    tris = mesh.triangulated()
    return MeshPayload.from_triangles(mesh.positions[tris.reshape(-1)], np.arange(tris.size).reshape(-1, 3))


def flipped() -> MeshPayload:
    """The airplane with every third face's winding reversed (inconsistent normals)."""
    mesh = load("airplane")
    tris = mesh.triangulated().copy()
    tris[::3] = tris[::3, ::-1]
    return MeshPayload.from_triangles(mesh.positions, tris)


def large(faces: int = 1_000_000) -> MeshPayload:
    """A bumpy torus of about ``faces`` triangles (for slow tests)."""
    rows = int(math.sqrt(faces / 2 / 4))
    cols = faces // 2 // rows
    u = 2 * np.pi * np.arange(cols) / cols
    v = 2 * np.pi * np.arange(rows) / rows
    uu, vv = np.meshgrid(u, v, indexing="ij")
    r = 0.3 + 0.02 * np.sin(7 * uu) * np.cos(5 * vv)
    verts = np.stack([(1 + r * np.cos(vv)) * np.cos(uu), (1 + r * np.cos(vv)) * np.sin(uu), r * np.sin(vv)],
                     axis=-1).reshape(-1, 3)
    i = np.arange(cols)[:, None]
    j = np.arange(rows)[None, :]
    a = i * rows + j
    b = ((i + 1) % cols) * rows + j
    c = ((i + 1) % cols) * rows + (j + 1) % rows
    d = i * rows + (j + 1) % rows
    tris = np.concatenate([np.stack([a, b, c], -1).reshape(-1, 3), np.stack([a, c, d], -1).reshape(-1, 3)])
    return MeshPayload.from_triangles(verts, tris)


_SOURCES = {
    # name: (kind, builder, description)
    "bunny": ("real", lambda: _file_mesh("pymeshlab", "tests/sample_meshes/bunny.obj"),
              "Stanford bunny, 56k triangles, closed (pymeshlab sample)"),
    "bunny10k": ("real", lambda: _file_mesh("pymeshlab", "tests/sample_meshes/bunny10k_textured.obj"),
                 "bunny 10k with UVs: vertices split at UV seams, open at the base (pymeshlab sample)"),
    "airplane": ("real", lambda: _file_mesh("pymeshlab", "tests/sample_meshes/airplane.obj"),
                 "airplane, 11k triangles, thin wings (pymeshlab sample)"),
    "bone": ("real", lambda: _file_mesh("pymeshlab", "tests/sample_meshes/bone.ply"),
             "bone, 3k triangles, duplicated vertices (pymeshlab sample)"),
    "cow": ("real", lambda: _file_mesh("pymeshlab", "tests/sample_meshes/cow.obj"),
            "cow, 5.8k triangles (pymeshlab sample)"),
    "face_scan": ("real", lambda: _file_mesh("pymeshlab", "tests/sample_meshes/rangemaps/face000.ply"),
                  "range scan of a face: 166k triangles, 22 pieces, open (pymeshlab sample)"),
    "scan_bunny": ("real", lambda: _file_mesh("pymeshfix", "examples/StanfordBunny.ply"),
                   "scanned bunny with holes and small islands, 100k triangles (pymeshfix example)"),
    "planar": ("real", lambda: _file_mesh("pymeshfix", "examples/planar_mesh.ply"),
               "planar mesh with many holes, 2.5k triangles (pymeshfix example)"),
    "cube": ("primitive", cube, "Blender default cube: 6 quads"),
    "uv_sphere": ("primitive", uv_sphere, "Blender UV sphere: quads + triangle fans at the poles"),
    "cylinder": ("primitive", cylinder, "Blender cylinder: side quads + 32-gon caps"),
    "cone": ("primitive", cone, "Blender cone: triangle fan + 32-gon base"),
    "torus": ("primitive", torus, "Blender torus: genus 1 quad grid"),
    "grid": ("primitive", grid, "Blender grid: open flat quad patch"),
    "bracket": ("primitive", bracket, "CAD bracket: block with hole and notch, sharp edges, genus 1"),
    "nonmanifold_fin": ("broken", nonmanifold_fin, "sphere with two fins on one edge (non-manifold edge)"),
    "holes": ("broken", holes, "bunny with three holes cut"),
    "many_components": ("broken", many_components, "torus + 40 small spheres + 200 debris triangles"),
    "degenerate": ("broken", degenerate, "sphere + zero-area, repeated-vertex, duplicated faces, unused vertices"),
    "soup": ("broken", soup, "cow as an unwelded triangle soup"),
    "flipped": ("broken", flipped, "airplane with every third face flipped"),
    "large": ("large", large, "bumpy torus, 1M triangles"),
}

KINDS = ("real", "primitive", "broken", "large")


def names(kind: str = "default") -> list[str]:
    """Mesh names of one kind; 'default' is every kind except 'large', 'all' includes it."""
    if kind == "all":
        return list(_SOURCES)
    if kind == "default":
        return [n for n, (k, _, _) in _SOURCES.items() if k != "large"]
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; use one of {', '.join(KINDS + ('default', 'all'))}")
    return [n for n, (k, _, _) in _SOURCES.items() if k == kind]


def describe(name: str) -> str:
    """One line about where mesh ``name`` comes from or what is wrong with it."""
    return _SOURCES[name][2]


@functools.lru_cache(maxsize=32)
def _cached(name: str) -> MeshPayload:
    if name not in _SOURCES:
        raise KeyError(f"unknown corpus mesh {name!r}; known: {', '.join(_SOURCES)}")
    mesh = _SOURCES[name][1]()
    mesh.validate(name)
    return mesh


def load(name: str) -> MeshPayload:
    """A fresh copy of corpus mesh ``name`` (safe to modify)."""
    mesh = _cached(name)
    return MeshPayload(positions=mesh.positions.copy(), face_sizes=mesh.face_sizes.copy(),
                       face_indices=mesh.face_indices.copy())
