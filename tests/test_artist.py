"""The artist mesh transformer: tokeniser round trip, KV cache, checks, the op's artist path and fallback."""
import numpy as np
import pytest
import torch

from backend.geometry import mesh_validity
from backend.models import kiln_artist, registry as registry_module
from backend.models.artist_mesh import ArtistConfig, ArtistMeshModel
from backend.models.artist_pipeline import ArtistResult, ArtistRetopo
from backend.models.checkpoint import module_tensors, save_checkpoint
from backend.models.mesh_tokens import (ADJ4, NEW4, TokenSpec, canonical_faces, decode, encode, quantize_mesh,
                                        split_polygon)
from backend.models.registry import ModelEntry, ModelRegistry
from backend.ops import retopo
from backend.runtime import CancelToken, Cancelled
from shared.payload import MeshPayload

TINY = ArtistConfig(dim=32, layers=2, heads=2, latents=4, points=64, fourier=2, max_tokens=300, max_faces=40)


def cube(n=2):
    """An n x n x n subdivided cube surface: 6 n^2 quads, closed, outward winding."""
    verts, index, quads = [], {}, []

    def vid(p):
        if p not in index:
            index[p] = len(verts)
            verts.append(p)
        return index[p]

    for axis in range(3):
        for side in (0, n):
            u, w = (axis + 1) % 3, (axis + 2) % 3
            for i in range(n):
                for j in range(n):
                    corners = []
                    for di, dj in ((0, 0), (1, 0), (1, 1), (0, 1)):
                        p = [0, 0, 0]
                        p[axis], p[u], p[w] = side, i + di, j + dj
                        corners.append(vid(tuple(p)))
                    quads.append(corners if side == n else corners[::-1])
    v = np.array(verts, dtype=np.float64) / n - 0.5
    return v, np.array(quads)


def quad_payload(v, quads):
    return MeshPayload(positions=v.astype(np.float32), face_sizes=np.full(len(quads), 4, np.int32),
                       face_indices=quads.reshape(-1).astype(np.int32))


def test_tokens_round_trip_exactly_and_keep_quads():
    from backend.procedural.registry import generate

    meshes = [cube(3), None]
    asset = generate("barrel", 3).artist_mesh()
    for v, quads in meshes[:1]:
        q = quantize_mesh(v, np.full(len(quads), 4), quads.reshape(-1), 64)
        tokens = encode(q)
        back = decode(tokens)
        assert canonical_faces(back) == canonical_faces(q)
        assert sum(len(f) == 4 for f in back.faces) == len(quads) == 54
        assert set(ADJ4) & set(tokens.tolist()), "neighbouring quads share an edge in the tokens"
        assert len(tokens) < 9 * len(quads)  # a NEW4 face costs 9 tokens at least; strips are cheaper
    q = quantize_mesh(asset.positions, asset.face_sizes, asset.face_indices, 64)
    back = decode(encode(q))
    assert canonical_faces(back) == canonical_faces(q)
    assert sum(len(f) == 4 for f in back.faces) == sum(len(f) == 4 for f in q.faces) > 0.8 * len(q.faces)
    assert np.allclose(back.vertices[[f[0] for f in back.faces]].shape[1], 3)


def test_ngons_split_into_quads_and_one_triangle():
    assert split_polygon([0, 1, 2, 3, 4, 5]) == [[0, 1, 2, 3], [0, 3, 4, 5]]
    assert split_polygon([0, 1, 2, 3, 4]) == [[0, 1, 2, 3], [0, 3, 4]]


def test_decoder_rejects_tokens_the_grammar_forbids():
    spec = TokenSpec()
    with pytest.raises(ValueError):
        decode([ADJ4[0]], spec)  # no previous face to share an edge with
    with pytest.raises(ValueError):
        decode([NEW4, spec.offset_base], spec)  # an offset before any block


def tiny_model(seed=0):
    torch.manual_seed(seed)
    return ArtistMeshModel(TINY).eval()


def test_kv_cache_generation_equals_full_recompute():
    model = tiny_model()
    points = torch.randn(1, TINY.points, 6)
    for temperature in (0.0, 1.0):
        a, ta = model.generate(points, 20, temperature=temperature, seed=3, use_cache=True)
        b, tb = model.generate(points, 20, temperature=temperature, seed=3, use_cache=False)
        assert ta == tb and len(ta) > 0
        assert a.faces == b.faces


def test_kv_cache_logits_equal_the_full_forward_on_a_long_sequence():
    model = tiny_model()
    points = torch.randn(1, TINY.points, 6)
    v, quads = cube(3)
    tokens = encode(quantize_mesh(v, np.full(len(quads), 4), quads.reshape(-1), 64))[:150]
    seq = torch.tensor([[1, *tokens.tolist()]])
    counts = torch.tensor([5])
    with torch.no_grad():
        full = model(points, counts, seq)[0]
        caches = [dict() for _ in model.blocks]
        first = torch.cat([model.prefix(points, counts), model.tokens(seq[:, :1])], dim=1)
        steps = [model._run(first, 0, caches)[0, -1]]
        for t in range(1, seq.shape[1]):
            steps.append(model._run(model.tokens(seq[:, t:t + 1]), model.prefix_len + t, caches)[0, -1])
    assert torch.allclose(full, torch.stack(steps), atol=1e-4)


class NoEnd(torch.nn.Module):
    """A head that never chooses EOS, so a random model writes until its face limit."""

    def __init__(self, head):
        super().__init__()
        self.head = head

    def forward(self, x):
        out = self.head(x)
        out[..., 2] = -1e9
        return out


def test_generation_reports_progress_and_cancels_inside_the_loop():
    model = tiny_model()
    model.head = NoEnd(model.head)
    points = torch.randn(1, TINY.points, 6)
    seen = []
    model.generate(points, 40, temperature=1.0, progress=lambda done, limit: seen.append(done))
    assert seen and seen[0] == 100
    token = CancelToken()
    calls = []

    def progress(done, limit):
        calls.append(done)
        token.cancel()

    with pytest.raises(Cancelled):
        model.generate(points, 40, temperature=1.0, progress=progress, cancel=token)
    assert calls == [100]


def test_checks_find_flips_holes_duplicates_and_budget():
    v, quads = cube(1)
    faces = [tuple(q) for q in quads]
    assert mesh_validity.problems(v, faces, 6, True, 1e-9) == []
    flipped = faces[:-1] + [faces[-1][::-1]]
    assert any("winding" in p for p in mesh_validity.problems(v, flipped, 6, True, 1e-9))
    assert any("open edges" in p for p in mesh_validity.problems(v, faces[:-1], 6, True, 1e-9))
    assert mesh_validity.problems(v, faces[:-1], 6, False, 1e-9) == []
    assert any("budget" in p for p in mesh_validity.problems(v, faces, 5, True, 1e-9))
    v2, kept, dropped = mesh_validity.cleanup(v, faces + [faces[0][::-1], (0, 0, 1)], 1e-9)
    assert len(kept) == 6 and dropped == {"degenerate": 1, "duplicate": 1}


@pytest.fixture
def registry(monkeypatch):
    reg = ModelRegistry()
    monkeypatch.setattr(registry_module, "_registry", reg)
    return reg


def test_tiny_random_model_through_the_op_falls_back_and_says_so(registry, tmp_path):
    model = tiny_model()
    save_checkpoint(tmp_path / "tiny-artist", module_tensors({"": model}), TINY.to_json())
    for entry in kiln_artist.model_entries(tmp_path):
        registry.register(entry)
    assert registry.default_name(kiln_artist.CAPABILITY) == "tiny-artist"
    mesh = quad_payload(*cube(4))
    out = retopo.run({"mesh": mesh}, {"mode": "artist", "target_faces": 30}, lambda *a: None, CancelToken())["mesh"]
    out.validate()
    report = " | ".join(out.info["report"])
    assert out.info["path"] == "lowpoly (fallback)"
    assert "tiny-artist" in report and "rejected" in report and "lowpoly used instead" in report
    assert out.num_faces > 0


def test_artist_result_that_passes_is_kept(registry):
    """The op keeps a model result that passes every check (a fixed result at the model seam)."""
    v, quads = cube(2)

    class Fixed:
        def rebuild(self, vertices, triangles, budget, seed=0, **sampling):
            return ArtistResult(v, [tuple(q) for q in quads], 120, 0.01, True)

    registry.register(ModelEntry("fixed", kiln_artist.CAPABILITY, "", "", ("mesh",), lambda device: Fixed()))
    out = retopo.run({"mesh": quad_payload(*cube(6))}, {"mode": "artist", "target_faces": 30},
                     lambda *a: None, CancelToken())["mesh"]
    assert out.info["path"] == "artist" and out.num_faces == 24 and set(out.face_sizes.tolist()) == {4}


def test_artist_result_farther_than_lowpoly_falls_back_and_says_why(registry):
    """A cube with a bump: a model mesh passing every check but cutting the bump off loses to lowpoly's,
    which keeps it."""
    v, quads = cube(2)

    class Flat:
        def rebuild(self, vertices, triangles, budget, seed=0, **sampling):
            return ArtistResult(v, [tuple(q) for q in quads], 120, 0.01, True)

    registry.register(ModelEntry("flat", kiln_artist.CAPABILITY, "", "", ("mesh",), lambda device: Flat()))
    bumped, dense_quads = cube(6)
    bumped[np.argmin(np.linalg.norm(bumped - [0.5, 0, 0], axis=1))] = [0.6, 0, 0]
    out = retopo.run({"mesh": quad_payload(bumped, dense_quads)}, {"mode": "artist", "target_faces": 30},
                     lambda *a: None, CancelToken())["mesh"]
    assert out.info["path"] == "lowpoly (fallback)"
    assert "farther than lowpoly's" in out.info["why"]
    assert out.info["warning"].startswith("the artist model's mesh was not used (model's mesh")  # the add-on shows it
    assert any("passed: artist model flat" in line for line in out.info["report"])
    assert any(line.startswith("lowpoly used instead: model's mesh") for line in out.info["report"])


def test_budget_over_the_models_range_goes_to_lowpoly_without_trying_the_model(registry):
    class Unused:
        def rebuild(self, *args, **kwargs):
            raise AssertionError("the model must not run over its budget range")

    registry.register(ModelEntry("unused", kiln_artist.CAPABILITY, "", "", ("mesh",), lambda device: Unused()))
    target = retopo.ARTIST_MAX_BUDGET + 1
    out = retopo.run({"mesh": quad_payload(*cube(12))}, {"mode": "artist", "target_faces": target},
                     lambda *a: None, CancelToken())["mesh"]
    assert out.info["path"] == "lowpoly (fallback)" and 0 < out.num_faces <= target
    assert f"budgets up to {retopo.ARTIST_MAX_BUDGET} faces" in out.info["why"]
    assert "lowpoly used instead: the artist model is tried only" in " ".join(out.info["report"])


def test_stacked_faces_found_and_clean_mesh_passes():
    v, quads = cube(4)
    faces = [tuple(q) for q in quads]
    assert mesh_validity.stacked_faces(v, faces, 1e-3) == 0
    f = faces[5]
    normal = np.cross(v[f[1]] - v[f[0]], v[f[2]] - v[f[0]])
    lifted = np.concatenate([v, v[list(f)] + 5e-4 * normal / np.linalg.norm(normal)])
    k = len(v)
    assert mesh_validity.stacked_faces(lifted, faces + [(k, k + 1, k + 2, k + 3)], 1e-3) == 2
    assert mesh_validity.stacked_faces(lifted, faces + [(k + 3, k + 2, k + 1, k)], 1e-3) == 2  # its back
    assert mesh_validity.stacked_faces(lifted, faces + [(k, k + 1, k + 2, k + 3)], 1e-4) == 0  # beyond tolerance


def test_no_artist_model_falls_back_to_lowpoly(registry):
    out = retopo.run({"mesh": quad_payload(*cube(4))}, {"mode": "artist", "target_faces": 40},
                     lambda *a: None, CancelToken())["mesh"]
    assert out.info["path"] == "lowpoly (fallback)"
    assert "no artist model installed" in " ".join(out.info["report"])


def test_embedded_weights_load_and_generate():
    stem = kiln_artist.WEIGHTS_DIR / kiln_artist.EMBEDDED_NAME
    entries = kiln_artist.model_entries(None)
    assert [e.name for e in entries] == [kiln_artist.EMBEDDED_NAME]
    loaded = kiln_artist.load_artist(stem)
    assert isinstance(loaded, ArtistRetopo) and loaded.cfg.max_faces >= 200
    v, quads = cube(3)
    tris = np.concatenate([quads[:, [0, 1, 2]], quads[:, [0, 2, 3]]])
    result = loaded.rebuild(v, tris, 12)
    assert 0 < len(result.faces) <= 12 and result.tokens > 0


def test_generated_faces_never_repeat_a_vertex():
    model = tiny_model(1)
    model.head = NoEnd(model.head)
    reader, _ = model.generate(torch.randn(1, TINY.points, 6), 40, temperature=1.5, seed=5)
    assert len(reader.faces) == TINY.max_faces
    assert all(len(set(f)) == len(f) for f in reader.faces)


def test_deviation_sees_faces_off_the_surface():
    v, quads = cube(2)
    faces = [tuple(q) for q in quads]
    tris = np.array([(f[0], f[k], f[k + 1]) for f in faces for k in (1, 2)])
    off, missed = mesh_validity.deviation(v, faces, v, tris)
    assert off < 1e-6 and missed < 1e-6
    off, missed = mesh_validity.deviation(v * 1.5, faces, v, tris)
    assert off > 0.1 and missed > 0.1


@pytest.mark.slow
@pytest.mark.parametrize("case", ["plane", "loose", "scan"])
def test_far_inputs_give_a_valid_mesh_and_say_which_path(case, monkeypatch):
    """Inputs unlike any training mesh, through the embedded model: a valid mesh, the path named."""
    import mesh_corpus

    monkeypatch.setattr(registry_module, "_registry", None)
    rng = np.random.default_rng(0)
    if case == "plane":
        mesh, target = MeshPayload.from_triangles(np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0]], float),
                                                  np.array([[0, 1, 2], [0, 2, 3]])), 8
    elif case == "loose":
        mesh, target = MeshPayload.from_triangles(rng.random((600, 3)), np.arange(600).reshape(200, 3)), 200
    else:
        mesh, target = mesh_corpus.load("scan_bunny"), 300
    out = retopo.run({"mesh": mesh}, {"mode": "artist", "target_faces": target}, lambda *a: None,
                     CancelToken())["mesh"]
    out.validate()
    assert out.info["path"] in ("artist", "lowpoly (fallback)")
    assert any("kiln-artist-s" in line for line in out.info["report"])
    assert 0 < out.num_faces <= int(1.1 * target)
    if out.info["path"] == "artist":  # the model's own mesh passed every check (lowpoly's has its own tests)
        faces = mesh_validity.face_list(out.face_sizes, out.face_indices)
        assert mesh_validity.problems(out.positions.astype(np.float64), faces, target, False, 0.0) == []
