"""The generate op with the real registry and the real procedural model (MiniLM on CPU)."""
import numpy as np
import pytest

from backend.models.registry import configure
from backend.ops import generate
from backend.runtime import CancelToken, Cancelled, OpError
from shared.payload import ImagePayload, pack_payloads, unpack_payloads
from shared.protocol import ProtocolError, validate_params


@pytest.fixture(scope="module")
def registry():
    return configure(models_dir=None, device="cpu")


def run(params, inputs=None, cancel=None):
    events = []
    out = generate.run(inputs or {}, validate_params(generate.params_schema(), params),
                       lambda f, s, m="": events.append((f, s, m)), cancel or CancelToken())
    return out["mesh"], events


def test_schema_offers_the_registry_shape_models(registry):
    spec = {p.name: p for p in generate.params_schema()}
    assert set(spec) == {"prompt", "model", "seed", "steps", "guidance", "resolution", "texture"}
    assert "procedural" in spec["model"].choices and registry.default_name("shape") in spec["model"].choices
    assert spec["model"].default == "auto"
    assert generate.available() == (True, "")
    with pytest.raises(ProtocolError):
        validate_params(generate.params_schema(), {"model": "no-such-model"})


def test_prompt_gives_a_labelled_low_poly_mesh_with_materials(registry):
    mesh, events = run({"prompt": "a red metal stool", "model": "procedural", "seed": 4})
    mesh.validate()
    info = mesh.info
    assert info["model"] == "procedural" and info["category"] == "stool"
    assert info["attributes"]["material"] == "metal" and info["attributes"]["color"] == "red"
    assert 0.5 < info["confidence"] <= 1.0 and info["matched"] and "warning" not in info
    assert info["summary"] == f"stool, procedural, {info['confidence']:.0%}"
    assert "seat" in mesh.part_names and len(mesh.part_materials) == len(mesh.part_names)
    seat = mesh.materials[mesh.part_materials[mesh.part_names.index("seat")]]
    assert seat.metallic == 1.0 and seat.base_color[0] > 2 * seat.base_color[2]  # red metal
    assert set(np.unique(mesh.part_ids)) == set(range(len(mesh.part_names)))
    assert (mesh.face_sizes >= 4).mean() > 0.5 and mesh.num_faces < 1500
    assert mesh.positions[:, 2].min() == pytest.approx(0.0, abs=1e-6)  # stands on z = 0, Blender's up
    fractions = [f for f, _, _ in events]
    assert fractions == sorted(fractions) and fractions[-1] == pytest.approx(1.0)
    # survives the wire format
    described, buffers = pack_payloads({"mesh": mesh})
    again = unpack_payloads(described, dict(buffers))["mesh"]
    assert again.info["category"] == "stool"


def test_same_seed_same_mesh_other_seed_differs(registry):
    a, _ = run({"prompt": "a wooden chair", "seed": 11, "model": "procedural"})
    b, _ = run({"prompt": "a wooden chair", "seed": 11, "model": "procedural"})
    c, _ = run({"prompt": "a wooden chair", "seed": 12, "model": "procedural"})
    np.testing.assert_array_equal(a.positions, b.positions)
    assert a.positions.shape != c.positions.shape or not np.allclose(a.positions, c.positions)


def test_free_phrasing_and_far_prompts(registry):
    bottle, _ = run({"prompt": "glass bottle", "model": "procedural"})
    assert bottle.info["category"] == "bottle"
    assert bottle.materials[bottle.part_materials[bottle.part_names.index("body")]].roughness < 0.1  # glass
    far, _ = run({"prompt": "a quantum flux capacitor", "model": "procedural"})
    assert far.info["category"] and far.info["confidence"] < bottle.info["confidence"]


def test_image_only_and_empty_requests_fail_clearly(registry):
    image = {"image": ImagePayload(np.zeros((8, 8, 4), dtype=np.uint8))}
    with pytest.raises(OpError, match="needs a text prompt"):
        run({"model": "procedural"}, image)
    with pytest.raises(OpError, match="give a prompt"):
        run({"prompt": "   ", "model": "procedural"})
    mesh, events = run({"prompt": "a mug", "model": "procedural"}, image)  # image ignored, said so
    assert mesh.info["category"] == "mug" and any("ignores the image" in m for _, _, m in events)


def test_cancel_is_honoured(registry):
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        run({"prompt": "a lamp", "model": "procedural"}, cancel=token)
