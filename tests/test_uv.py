"""UV unwrapping: xatlas in a child process, its fallback, and polygon UVs."""
from __future__ import annotations

import numpy as np

from backend.geometry import uv_unwrap
from backend.geometry.raster import rasterize
from backend.geometry.image_sampling import uv_to_pixel
from tests import mesh_corpus


def _overlap_fraction(tri_uvs: np.ndarray, size: int = 256) -> float:
    """Share of covered texels that two different triangles both cover (0 for a valid atlas)."""
    xy = uv_to_pixel(tri_uvs, size, size)
    hits = np.zeros(size * size, dtype=np.int64)
    for i in range(len(xy)):  # per-triangle coverage count; small meshes only
        hits += rasterize(xy[i:i + 1], size, size).mask.ravel()
    covered = hits > 0
    return float((hits > 1).sum() / max(covered.sum(), 1))


def test_xatlas_charts_do_not_overlap():
    mesh = mesh_corpus.load("cone")
    tri = mesh.triangulated()
    uvs, note = uv_unwrap.unwrap_triangles(mesh.positions, tri, 256)
    assert note == "unwrapped with xatlas"
    assert uvs.shape == (len(tri), 3, 2)
    assert uvs.min() >= 0.0 and uvs.max() <= 1.0
    assert _overlap_fraction(uvs) < 0.01


def test_quads_keep_polygon_uvs():
    mesh = mesh_corpus.load("torus")  # all quads
    uvs, _ = uv_unwrap.unwrap_triangles(mesh.positions, mesh.triangulated(), 512)
    out, split = uv_unwrap.with_triangle_uvs(mesh, uvs)
    out.validate("mesh")
    # xatlas may split a few quads across charts; those become triangles, the rest stay quads.
    assert out.num_faces == mesh.num_faces + split
    assert (out.face_sizes == 4).sum() == mesh.num_faces - split
    assert split < 0.1 * mesh.num_faces


def test_split_polygons_become_triangles_in_place():
    mesh = mesh_corpus.load("cube")
    mesh.part_ids = np.arange(6, dtype=np.int32)
    mesh.part_names = [f"side_{i}" for i in range(6)]
    uvs = uv_unwrap.grid_atlas(12)  # every triangle its own cell: every quad must split
    out, split = uv_unwrap.with_triangle_uvs(mesh, uvs)
    out.validate("mesh")
    assert split == 6 and out.num_faces == 12 and (out.face_sizes == 3).all()
    np.testing.assert_array_equal(out.part_ids, np.repeat(np.arange(6), 2))
    tri = mesh.triangulated()
    np.testing.assert_array_equal(out.face_indices.reshape(-1, 3), tri)
    np.testing.assert_allclose(out.corner_uvs.reshape(-1, 3, 2), uvs)


def test_fallback_when_xatlas_crashes(monkeypatch, tmp_path):
    # A worker that segfaults stands in for xatlas dying on a huge mesh: a real child crash.
    (tmp_path / "kiln_crashing_unwrap.py").write_text("import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)\n")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    monkeypatch.setattr(uv_unwrap, "UV_WORKER", "kiln_crashing_unwrap")
    mesh = mesh_corpus.load("uv_sphere")
    uvs, note = uv_unwrap.unwrap_triangles(mesh.positions, mesh.triangulated())
    assert "grid atlas" in note and "signal 11" in note
    assert _overlap_fraction(uvs) == 0.0


def test_grid_atlas_is_valid_for_any_count():
    for count in (1, 2, 7, 100):
        uvs = uv_unwrap.grid_atlas(count)
        assert uvs.shape == (count, 3, 2) and uvs.min() > 0 and uvs.max() < 1
