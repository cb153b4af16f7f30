"""The embedded kiln-shape-s end to end on CPU: prompt (and image) -> generate op -> GLB on disk."""
import numpy as np
import pytest

from backend.meshio import read_mesh, write_mesh
from backend.models import kiln_shape
from backend.models.registry import configure
from backend.ops import generate
from backend.runtime import CancelToken, Cancelled
from backend.train.render import render_view
from shared.payload import ImagePayload

pytestmark = pytest.mark.skipif(not (kiln_shape.WEIGHTS_DIR / "kiln-shape-s.safetensors").is_file(),
                                reason="kiln-shape-s weights are not in backend/weights")
FAST = {"model": "kiln-shape-s", "seed": 0, "steps": 6, "guidance": 4.0, "resolution": 64, "texture": False}


@pytest.fixture(scope="module")
def registry():
    return configure(None, "cpu")


def test_kiln_shape_s_is_the_default_shape_model(registry):
    assert registry.default_name("shape") == "kiln-shape-s"
    entry = registry.entry("kiln-shape-s")
    assert entry.conditioning == ("text", "image")
    assert entry.weights.stat().st_size + entry.weights.with_suffix(".json").stat().st_size < 50e6


def test_prompt_to_glb(registry, tmp_path):
    stages = []
    outputs = generate.run({}, {**FAST, "prompt": "a wooden barrel"}, lambda f, s, m="": stages.append((f, s)),
                           CancelToken())
    mesh = outputs["mesh"]
    assert mesh.info["model"] == "kiln-shape-s" and mesh.num_faces > 100
    path = write_mesh(tmp_path / "barrel.glb", mesh)
    again = read_mesh(path)
    assert again.num_faces == mesh.num_faces
    extent = mesh.positions.max(0) - mesh.positions.min(0)
    assert extent[2] > 0.5 * extent[:2].max(), "a barrel stands upright (z up, Blender axes)"
    fractions = [f for f, _ in stages]
    assert fractions == sorted(fractions) and {"encode", "sample", "extract"} <= {s for _, s in stages}


def test_same_seed_same_mesh_other_seed_other_mesh(registry):
    a = generate.run({}, {**FAST, "prompt": "a ceramic mug"}, lambda *x: None, CancelToken())["mesh"]
    b = generate.run({}, {**FAST, "prompt": "a ceramic mug"}, lambda *x: None, CancelToken())["mesh"]
    np.testing.assert_array_equal(a.positions, b.positions)
    c = generate.run({}, {**FAST, "prompt": "a ceramic mug", "seed": 5}, lambda *x: None, CancelToken())["mesh"]
    assert c.num_vertices != a.num_vertices or not np.allclose(c.positions, a.positions)


def test_image_only_request(registry):
    box = np.array([[-0.5, -0.5, -0.5], [0.5, -0.5, -0.5], [0.5, 0.5, -0.5], [-0.5, 0.5, -0.5],
                    [-0.5, -0.5, 0.5], [0.5, -0.5, 0.5], [0.5, 0.5, 0.5], [-0.5, 0.5, 0.5]]) * [1.4, 1.0, 0.9]
    faces = np.array([[0, 2, 1], [0, 3, 2], [4, 5, 6], [4, 6, 7], [0, 1, 5], [0, 5, 4], [1, 2, 6], [1, 6, 5],
                      [2, 3, 7], [2, 7, 6], [3, 0, 4], [3, 4, 7]])
    picture = render_view(box, faces, np.full((12, 3), [0.6, 0.4, 0.2]), size=128)
    outputs = generate.run({"image": ImagePayload(picture)}, {**FAST, "prompt": ""}, lambda *x: None, CancelToken())
    assert outputs["mesh"].num_faces > 0


def test_cancel_stops_sampling(registry):
    token = CancelToken()

    def progress(fraction, stage, message=""):
        if stage == "sample":
            token.cancel()

    with pytest.raises(Cancelled):
        generate.run({}, {**FAST, "prompt": "a table"}, progress, token)


@pytest.mark.skipif(not (kiln_shape.WEIGHTS_DIR / "kiln-shape-m.safetensors").is_file(),
                    reason="kiln-shape-m weights are not in backend/weights")
def test_kiln_shape_m_generates_by_name(registry):
    entry = registry.entry("kiln-shape-m")
    assert entry.priority < registry.entry("kiln-shape-s").priority, "opt-in until it stops losing tables"
    outputs = generate.run({}, {**FAST, "model": "kiln-shape-m", "prompt": "a wooden barrel", "resolution": 48},
                           lambda *a: None, CancelToken())
    mesh = outputs["mesh"]
    assert mesh.info["model"] == "kiln-shape-m" and mesh.num_faces > 100
    extent = mesh.positions.max(0) - mesh.positions.min(0)
    assert extent[2] > 0.5 * extent[:2].max(), "a barrel stands upright (z up, Blender axes)"
