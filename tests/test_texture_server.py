"""The texture and parts ops through a real backend over ZeroMQ: image in, textures out, cancel."""
from __future__ import annotations

import numpy as np
import pytest

from shared.client import Client, KilnError
from shared.payload import ImagePayload
from tests import mesh_corpus
from tests.platform_helpers.server_proc import running_server


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with running_server(tmp_path_factory.mktemp("store"), test_ops=False, real_ops="parts,texture") as proc:
        yield proc


def test_image_texture_round_trips_through_the_server(server):
    image = np.zeros((80, 80, 4), dtype=np.uint8)
    image[:, :40] = [200, 30, 30, 255]
    image[:, 40:] = [30, 30, 200, 255]
    stages = []
    with Client(server.address, client_name="texture") as client:
        assert "texture" in client.connect()["ops"]
        job = client.submit("texture", {"resolution": 128, "pbr": True},
                            {"mesh": mesh_corpus.load("uv_sphere"), "image": ImagePayload(image)})
        mesh = client.wait(job, on_progress=lambda p: stages.append(p["stage"]), timeout=300)["mesh"]
    assert {"texel map", "projecting image"} <= set(stages)
    assert set(mesh.textures) == {"base_color", "roughness", "metallic", "normal"}
    assert mesh.corner_uvs is not None and mesh.materials
    rgb = mesh.textures["base_color"][..., :3].reshape(-1, 3).astype(int)
    assert (rgb.sum(1) > 0).all()  # no black texel anywhere, gutters included


def test_parts_then_texture_keeps_the_parts(server):
    with Client(server.address) as client:
        job = client.submit("parts", {"num_parts": 3, "method": "sdf"}, {"mesh": mesh_corpus.load("cylinder")})
        split = client.wait(job, timeout=300)["mesh"]
        image = np.full((32, 32, 4), 255, dtype=np.uint8)
        job = client.submit("texture", {"resolution": 64, "pbr": False}, {"mesh": split, "image": ImagePayload(image)})
        textured = client.wait(job, timeout=300)["mesh"]
    assert len(split.part_names) == 3
    assert textured.part_names == split.part_names and textured.part_materials == [0, 0, 0]
    assert set(textured.textures) == {"base_color"}


def test_cancel_a_texture_job(server):
    with Client(server.address) as client:
        job = client.submit("texture", {"resolution": 4096, "pbr": True},
                            {"mesh": mesh_corpus.load("torus"), "image": ImagePayload(np.full((64, 64, 4), 255, np.uint8))})
        client.cancel(job)
        with pytest.raises(KilnError) as failure:
            client.wait(job, timeout=300)
    assert failure.value.code == "cancelled"


def test_bad_texture_request_fails_clearly(server):
    with Client(server.address) as client:
        job = client.submit("texture", {"resolution": 128}, {"mesh": mesh_corpus.load("cube")})
        with pytest.raises(KilnError) as failure:
            client.wait(job, timeout=120)
    assert failure.value.code == "failed" and "prompt, an image" in str(failure.value)
