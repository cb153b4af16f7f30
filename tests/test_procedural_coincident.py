"""Procedural artist meshes: no two pieces put faces on the same plane, facing the same way, over
each other. Such faces z-fight in viewports and render black in Cycles (light rays leaving one
hit the other at once); the chair's back posts once ran up inside the top rail, the sofa's base
shared its sides with the arms, a table's apron its top with the legs'."""
from __future__ import annotations

import numpy as np
import pytest

from backend.procedural.registry import categories, generate


def coincident_faces(asset) -> list[tuple[str, str]]:
    """(part, part) pairs of pieces with coplanar, same-facing, overlapping triangles."""
    mesh = asset.artist_mesh()
    piece = np.concatenate([np.full(len(p.face_sizes), k) for k, (_, p) in enumerate(asset.pieces())])
    tris, face = mesh.triangulated(), mesh.triangle_face_ids()
    t = mesh.positions.astype(np.float64)[tris]
    n = np.cross(t[:, 1] - t[:, 0], t[:, 2] - t[:, 0])
    area = np.linalg.norm(n, axis=1)
    n /= np.maximum(area, 1e-30)[:, None]
    key = np.round(np.c_[n * 1e3, (n * t[:, 0]).sum(1) * 1e4]).astype(np.int64)
    _, group = np.unique(key, axis=0, return_inverse=True)
    found = set()
    for g in np.unique(group.reshape(-1)):
        idx = np.flatnonzero((group.reshape(-1) == g) & (area > 1e-10))
        if len(np.unique(piece[face[idx]])) < 2:
            continue
        normal = n[idx[0]]
        u = np.cross(normal, [1.0, 0, 0] if abs(normal[0]) < 0.9 else [0, 1.0, 0])
        u /= np.linalg.norm(u)
        flat = np.stack([t[idx] @ u, t[idx] @ np.cross(normal, u)], -1)          # (k,3,2)
        centre = flat.mean(1)
        samples = np.concatenate([centre[:, None], 0.7 * flat + 0.3 * centre[:, None]], 1)  # (k,4,2)
        a, b, c = flat[:, 0], flat[:, 1], flat[:, 2]
        det = (b[:, 1] - c[:, 1]) * (a[:, 0] - c[:, 0]) + (c[:, 0] - b[:, 0]) * (a[:, 1] - c[:, 1])
        s = samples[:, None]                                                        # (k,1,4,2) vs (k,)
        dx, dy = s[..., 0] - c[None, :, None, 0], s[..., 1] - c[None, :, None, 1]
        l0 = ((b[:, 1] - c[:, 1])[None, :, None] * dx + (c[:, 0] - b[:, 0])[None, :, None] * dy) / det[None, :, None]
        l1 = ((c[:, 1] - a[:, 1])[None, :, None] * dx + (a[:, 0] - c[:, 0])[None, :, None] * dy) / det[None, :, None]
        inside = (np.minimum(np.minimum(l0, l1), 1 - l0 - l1) > 1e-6).any(-1)      # (k,k)
        other = piece[face[idx]][:, None] != piece[face[idx]][None, :]
        for i, j in zip(*np.nonzero(inside & other)):
            found.add((mesh.part_names[mesh.part_ids[face[idx[i]]]], mesh.part_names[mesh.part_ids[face[idx[j]]]]))
    return sorted(found)


@pytest.mark.parametrize("name", sorted(categories()))
def test_pieces_never_share_a_face(name):
    found = {seed: coincident_faces(generate(name, seed)) for seed in range(8)}
    assert {seed: pairs for seed, pairs in found.items() if pairs} == {}


def test_the_check_finds_a_post_running_up_inside_a_rail():
    from backend.procedural.asset import AssetBuilder
    from backend.procedural.draw import Draw
    from backend.procedural.sdf import box

    builder = AssetBuilder("chair", Draw(0))
    builder.part("back", "wood", box((0.04, 0.04, 0.5), (0.2, 0.2, 0.25)))
    builder.part("rail", "wood", box((0.44, 0.04, 0.06), (0.0, 0.2, 0.47)))
    assert ("back", "rail") in coincident_faces(builder.finish())


@pytest.mark.parametrize("name, seed", [("cabinet", 25), ("desk", 31), ("flower_pot", 37), ("tree", 38)])
def test_rarer_draws_never_share_a_face(name, seed):
    """Square legs flush with a cabinet's front, a modesty panel over a desk's legs, blob spheres
    (bush, crown) whose facets happened to fall on one plane."""
    assert coincident_faces(generate(name, seed)) == []


def test_wide_slats_clear_the_posts_and_each_other():
    chair = generate("chair", 9)  # a narrow chair with five slats drawn 6 cm wide
    assert "a slatted back with five slats" in chair.features
    assert coincident_faces(chair) == []
