"""Diffusion texturing for real, on the CPU: a tiny random-weight SD + ControlNet folder in a models
folder, loaded by the registry, run by the texture op (and through a server) to a textured GLB.

Only tiny models run here: the GPU path (fp16, offload) is the same code with a real checkpoint.
"""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

pytest.importorskip("diffusers")

from backend.models import registry as model_registry  # noqa: E402
from backend.models.diffusion_texture import missing_components, model_entries  # noqa: E402
from backend.ops import texture  # noqa: E402
from backend.procedural.registry import generate  # noqa: E402
from backend.runtime import CancelToken, Cancelled, OpError  # noqa: E402
from shared.glb import read_glb, write_glb  # noqa: E402
from tests.platform_helpers.tiny_diffusion import make_tiny_model  # noqa: E402

PARAMS = {"prompt": "a wooden chair", "model": "tiny-sd", "resolution": 64, "steps": 2, "view_size": 64}


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("models")
    make_tiny_model(folder / "tiny-sd")
    shutil.copytree(folder / "tiny-sd", folder / "broken-sd")
    shutil.rmtree(folder / "broken-sd" / "vae")
    # a plain Stable Diffusion folder with a ControlNet folder copied in as controlnet/
    shutil.copytree(folder / "tiny-sd", folder / "sd-plus-controlnet")
    index = json.loads((folder / "sd-plus-controlnet" / "model_index.json").read_text())
    index.pop("controlnet")
    index["_class_name"] = "StableDiffusionPipeline"
    (folder / "sd-plus-controlnet" / "model_index.json").write_text(json.dumps(index))
    return folder


@pytest.fixture
def registry(models):
    yield model_registry.configure(models)
    model_registry.configure()


def test_only_complete_folders_are_offered_and_the_missing_part_is_named(models, tmp_path):
    assert model_entries(None) == [] and model_entries(tmp_path) == []
    entries = {e.name: e for e in model_entries(models)}
    assert set(entries) == {"tiny-sd", "broken-sd", "sd-plus-controlnet"}
    assert entries["tiny-sd"].capability == "texture"
    assert missing_components(models / "tiny-sd") == [] and missing_components(models / "broken-sd") == ["vae"]
    assert entries["broken-sd"].describe()["missing"] == ["vae"]


def test_paints_onto_the_existing_uvs_with_progress_per_step_and_view(registry):
    chair = generate("chair", 1).artist_mesh()
    seen = []
    out = texture.run({"mesh": chair}, PARAMS, lambda f, s, m="": seen.append((f, s, m)), CancelToken())["mesh"]
    np.testing.assert_array_equal(out.corner_uvs, chair.corner_uvs)  # the artist's UVs are kept
    assert out.info["texture"]["uv"] == "kept the input UVs" and out.part_names == chair.part_names
    assert [m for _, s, m in seen if s == "denoising"] == ["step 1/2, 4 views together", "step 2/2, 4 views together"]
    assert [m for _, s, m in seen if s == "projecting views"][-1] == "view 4/4"
    assert [f for f, _, _ in seen] == sorted(f for f, _, _ in seen)
    rgb = out.textures["base_color"]
    assert rgb.shape == (64, 64, 4) and rgb[..., :3].std() > 1  # painted, not a flat fill
    assert 0.2 < out.info["texture"]["coverage"] <= 1.0
    back = read_glb(write_glb(out))
    assert "base_color" in back.textures


def test_a_plain_sd_folder_with_a_controlnet_copied_in_loads(registry):
    out = texture.run({"mesh": generate("stool", 0).artist_mesh()}, {**PARAMS, "model": "sd-plus-controlnet"},
                      lambda *a: None, CancelToken())["mesh"]
    assert out.info["texture"]["model"] == "sd-plus-controlnet" and "base_color" in out.textures


def test_cancel_stops_inside_the_denoising_loop(registry):
    token = CancelToken()
    steps = []

    def progress(fraction, stage, message=""):
        if stage == "denoising":
            steps.append(message)
            token.cancel()

    with pytest.raises(Cancelled):
        texture.run({"mesh": generate("stool", 0).artist_mesh()}, {**PARAMS, "steps": 5}, progress, token)
    assert steps == ["step 1/5, 4 views together"]


def test_a_folder_with_a_missing_component_is_a_clear_error(registry):
    with pytest.raises(OpError, match="missing: vae"):
        texture.run({"mesh": generate("stool", 0).artist_mesh()}, {**PARAMS, "model": "broken-sd"},
                    lambda *a: None, CancelToken())


def test_without_uvs_the_mesh_is_unwrapped_first(registry):
    from tests import mesh_corpus

    out = texture.run({"mesh": mesh_corpus.load("uv_sphere")}, PARAMS, lambda *a: None, CancelToken())["mesh"]
    assert out.info["texture"]["uv"] == "unwrapped with xatlas" and out.corner_uvs is not None


@pytest.mark.slow
def test_through_a_real_server_to_a_textured_glb(models, tmp_path):
    from shared.client import Client, KilnError
    from tests.platform_helpers.server_proc import running_server

    with running_server(tmp_path / "store", "--models", str(models), test_ops=False, real_ops="texture") as server:
        with Client(server.address) as client:
            welcome = client.connect()
            offered = {m["name"] for m in welcome["models"] if m["capability"] == "texture"}
            assert {"tiny-sd", "broken-sd"} <= offered
            stages = []
            job = client.submit("texture", PARAMS, {"mesh": generate("chair", 1).artist_mesh()})
            mesh = client.wait(job, on_progress=lambda p: stages.append(p["stage"]), timeout=600)["mesh"]
            job = client.submit("texture", {**PARAMS, "model": "broken-sd"}, {"mesh": generate("chair", 1).artist_mesh()})
            with pytest.raises(KilnError) as failure:
                client.wait(job, timeout=300)
    assert "denoising" in stages and failure.value.code == "failed" and "missing: vae" in str(failure.value)
    glb = tmp_path / "chair.glb"
    glb.write_bytes(write_glb(mesh))
    back = read_glb(glb.read_bytes())
    assert back.textures["base_color"].shape == (64, 64, 4)
