"""Constrained decoding of the artist model, the post-pass before the checks, best-of-tries in the op."""
import numpy as np
import torch
from test_artist import TINY, NoEnd, cube, quad_payload, tiny_model

from backend.geometry import mesh_validity
from backend.models import kiln_artist, registry as registry_module
from backend.models.artist_pipeline import ArtistResult, condition_points
from backend.models.mesh_constraints import MeshConstraints
from backend.models.mesh_tokens import ADJ3, ADJ4, EOS, Decoder, TokenSpec, encode, normalization, quantize_mesh
from backend.models.registry import ModelEntry, ModelRegistry
from backend.ops import retopo
from backend.runtime import CancelToken

SPEC = TokenSpec()


def cube_surface(n=3, count=6000):
    """(vertices, quads, surface samples in the normalised frame) of a subdivided cube."""
    v, quads = cube(n)
    tris = np.concatenate([quads[:, [0, 1, 2]], quads[:, [0, 2, 3]]])
    samples = condition_points(v, tris, normalization(v), count, np.random.default_rng(0))[:, :3]
    return v, quads, samples


def edge_problems(faces):
    directed, undirected = mesh_validity.edge_counts(faces)
    return (sum(n > 1 for n in directed.values()) + sum(n > 2 for n in undirected.values())
            + sum(len(set(f)) < len(f) for f in faces) + len(faces) - len({frozenset(f) for f in faces}))


def off_surface(reader, constraints):
    """Vertices of the decoded mesh farther than the vertex tolerance (1.5 cells) from the samples."""
    cells = np.asarray(reader.cells).reshape(-1, 3)
    flat = (cells[:, 0] * 64 + cells[:, 1]) * 64 + cells[:, 2]
    return int((constraints.distance[flat] > 1.5 * 2 / 64).sum())


def test_constrained_random_model_stays_on_the_input_and_valid():
    """A random model (never ending) writes faces anywhere; under the constraints every vertex is on
    the input and no face repeats, degenerates or overuses an edge."""
    _, _, samples = cube_surface()
    model = tiny_model(2)
    model.head = NoEnd(model.head)
    points = torch.randn(1, TINY.points, 6)
    free, _ = model.generate(points, 40, temperature=1.0, seed=1)
    check = MeshConstraints(SPEC, samples, closed=True)
    assert off_surface(free, check) > 0  # what the constraints have to prevent
    constraints = MeshConstraints(SPEC, samples, closed=True)
    reader, _ = model.generate(points, 40, temperature=1.0, seed=1, constraints=constraints)
    assert len(reader.faces) == TINY.max_faces and constraints.relaxed == 0
    assert off_surface(reader, constraints) == 0
    assert edge_problems(reader.faces) == 0


def test_end_waits_for_a_closed_mesh_and_used_edges_block_adjacent_faces():
    v, quads, samples = cube_surface(2)
    tokens = encode(quantize_mesh(v, np.full(len(quads), 4), quads.reshape(-1), 64, normalization(v)))
    reader, constraints = Decoder(SPEC), MeshConstraints(SPEC, samples, closed=True)
    mask = np.zeros(SPEC.vocab_size, bool)
    ends = []
    for t in tokens:
        reader.feed(int(t))
        if reader.need == 0:
            mask[:] = False
            mask[[EOS, *reader.face_tokens()]] = True
            constraints.restrict(reader, mask)
            ends.append(bool(mask[EOS]))
    assert ends[-1] and not any(ends[:-1])  # end-of-mesh only once the cube is closed
    assert not mask[list(ADJ3) + list(ADJ4)].any()  # every edge already has its two faces
    open_input = MeshConstraints(SPEC, samples, closed=False)
    mask[:] = False
    mask[[EOS, *reader.face_tokens()]] = True
    partial = Decoder(SPEC)
    partial.feed(int(tokens[0]))
    for t in tokens[1:]:
        partial.feed(int(t))
        if partial.need == 0:
            break
    open_input.restrict(partial, mask)
    assert mask[EOS]  # an open input may end with open edges


def test_coverage_holds_the_end_back_and_steers_new_vertices():
    _, _, samples = cube_surface()
    model = tiny_model(3)
    points = torch.randn(1, TINY.points, 6)
    constraints = MeshConstraints(SPEC, samples, closed=False, coverage=0.99)
    reader, _ = model.generate(points, 40, temperature=1.0, seed=0, constraints=constraints)
    assert len(reader.faces) == TINY.max_faces  # 40 faces cannot cover 99%: it wrote up to the limit
    assert 0 < constraints.covered.mean() < 0.99


def test_top_p_keeps_the_most_likely_token_alone_when_tiny():
    model = tiny_model()
    points = torch.randn(1, TINY.points, 6)
    _, greedy = model.generate(points, 20, temperature=0.0)
    _, nucleus = model.generate(points, 20, temperature=1.0, top_p=1e-6, seed=4)
    assert greedy == nucleus


def test_post_pass_snaps_welds_and_drops_conflicting_faces():
    v, quads = cube(2)
    tris = np.concatenate([quads[:, [0, 1, 2]], quads[:, [0, 2, 3]]])
    moved = v * 1.03
    snapped = mesh_validity.snap_to_surface(moved, v, tris, 0.1)
    assert np.abs(np.abs(snapped).max(1) - 0.5).max() < 1e-9  # every vertex back on a cube face
    assert np.allclose(mesh_validity.snap_to_surface(v * 2, v, tris, 0.1), v * 2)  # too far: left alone
    faces = [tuple(q) for q in quads]
    first = faces[-1][0]
    split = np.concatenate([v, v[first:first + 1] + 1e-4])  # a corner doubled; the last face uses the double
    apart = faces[:-1] + [(len(v), *faces[-1][1:])]
    assert mesh_validity.problems(split, apart, 24, True, 1e-9)  # open where the double sits
    welded, refaced = mesh_validity.weld_close(split, apart, 1e-3)
    assert len(welded) == len(v) and mesh_validity.problems(welded, refaced, 24, True, 1e-9) == []
    kept, dropped = mesh_validity.drop_conflicting(faces + [faces[0], faces[1][::-1], (faces[2][0], faces[2][1], 99)])
    assert dropped == 3 and kept == faces


def test_op_keeps_the_closest_of_the_tries_that_pass(monkeypatch):
    """Fixed results at the model seam: try 1 cuts the corners, try 2 is exact, try 3 is open."""
    monkeypatch.setattr(registry_module, "_registry", ModelRegistry())
    v, quads = cube(2)
    corner = np.abs(v).min(1) > 0.49
    cut = v.copy()
    cut[corner] *= 0.92
    faces = [tuple(q) for q in quads]
    results = {0: (cut, faces), 1: (v, faces), 2: (v, faces[:-1])}

    class Fixed:
        def rebuild(self, vertices, triangles, budget, seed=0, **sampling):
            positions, f = results[seed]
            return ArtistResult(positions.copy(), list(f), 100, 0.01, True)

    registry_module._registry.register(ModelEntry("fixed", kiln_artist.CAPABILITY, "", "", ("mesh",),
                                                  lambda device: Fixed()))
    monkeypatch.setattr(retopo, "ARTIST_TRIES", 3)
    out = retopo.run({"mesh": quad_payload(*cube(6))}, {"mode": "artist", "target_faces": 30},
                     lambda *a: None, CancelToken())["mesh"]
    report = out.info["report"]
    assert out.info["path"] == "artist"
    assert sum(line.startswith("passed:") for line in report) == 2
    assert any(line.startswith("kept artist model fixed (try 2 of 3") for line in report)
    assert any("try 3" in line and "open edges" in line for line in report)
    assert np.abs(np.abs(out.positions).max(1) - 0.5).max() < 1e-5
