"""Published-model folders dropped into --models, through a real backend: list, image -> mesh, bad folder."""
import gc
import weakref

import numpy as np
import pytest

from backend.models.published import memory, provider
from backend.models.registry import ModelRegistry
from backend.runtime import OpError
from shared.client import Client, KilnError
from shared.payload import ImagePayload
from tests.platform_helpers.published import make_hunyuan_folder, make_triposg_folder, rgba_disc
from tests.platform_helpers.server_proc import running_server


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory):
    from safetensors.torch import load_file, save_file

    root = tmp_path_factory.mktemp("models")
    make_triposg_folder(root / "TripoSG-tiny")
    make_hunyuan_folder(root / "Hunyuan3D-2.1-tiny")
    make_triposg_folder(root / "TripoSG-broken", dino=False)
    path = root / "TripoSG-broken" / "vae" / "diffusion_pytorch_model.safetensors"
    tensors = load_file(str(path))
    del tensors["decoder.proj_out.weight"]
    save_file(tensors, str(path))
    (root / "unrelated").mkdir()
    return root


def test_registry_entries_carry_licence_conditioning_and_memory(models_dir):
    entries = {e.name: e for e in provider.model_entries(models_dir)}
    assert set(entries) == {"TripoSG-tiny", "Hunyuan3D-2.1-tiny", "TripoSG-broken"}
    tsg, hy = entries["TripoSG-tiny"], entries["Hunyuan3D-2.1-tiny"]
    assert tsg.conditioning == hy.conditioning == ("image",) and tsg.capability == "shape"
    assert "MIT" in tsg.license
    assert all(region in hy.license for region in ("European Union", "United Kingdom", "South Korea"))
    assert tsg.extra["vram_gib"] > 0 and hy.extra["dtype"] == {"cuda": "float16", "cpu": "float32"}
    assert hy.extra["recommended"] == {"steps": 50, "guidance": 5.0, "resolution": 384}
    assert "decoder.proj_out.weight" in entries["TripoSG-broken"].extra["problem"]
    assert hy.describe()["license"] == hy.license


def test_models_command_lists_them_with_licence_and_memory(models_dir, capsys):
    from backend.cli import main
    from backend.models.registry import configure

    try:
        assert main(["models", "--models", str(models_dir)]) == 0
    finally:
        configure(None, "cpu")
    out = capsys.readouterr().out
    assert "Hunyuan3D-2.1-tiny  [shape; image; model.fp16.ckpt]" in out and "South Korea" in out
    assert "TripoSG-tiny  [shape; image; diffusion_pytorch_model.safetensors]" in out
    assert "GiB at fp16 on CUDA (estimate)" in out and "cannot load: " in out


def test_lazy_load_unload_frees_and_cannot_fit(models_dir, monkeypatch):
    registry = ModelRegistry(models_dir, "cpu")
    registry.discover()
    assert registry.loaded() == []                        # discovery loads nothing
    model = registry.get("TripoSG-tiny")
    ref = weakref.ref(model.transformer)
    del model
    assert registry.unload("TripoSG-tiny") == ["TripoSG-tiny"]
    gc.collect()
    assert ref() is None                                  # nothing else holds the weights
    monkeypatch.setattr(memory, "free_bytes", lambda device: 1024)
    with pytest.raises(OpError, match="cannot fit: it needs ~.* GiB .* host has 0.0 GiB free"):
        registry.get("Hunyuan3D-2.1-tiny")
    assert registry.loaded() == []


@pytest.mark.slow  # ~35 s here: a server start (torch + transformers imports) and three jobs
def test_image_to_mesh_through_the_server_and_a_bad_folder_does_not_stop_it(models_dir, tmp_path):
    image = {"image": ImagePayload(rgba_disc())}
    params = {"steps": 2, "resolution": 32, "seed": 3}
    with running_server(tmp_path / "store", "--models", str(models_dir), test_ops=False, real_ops="generate") as srv:
        with Client(srv.address) as client:
            welcome = client.connect()
            models = {m["name"]: m for m in welcome["models"]}
            assert {"TripoSG-tiny", "Hunyuan3D-2.1-tiny", "TripoSG-broken"} <= set(models)
            assert "South Korea" in models["Hunyuan3D-2.1-tiny"]["license"]
            choices = {p["name"]: p for p in welcome["ops"]["generate"]["params"]}["model"]["choices"]
            assert "TripoSG-tiny" in choices

            job = client.submit("generate", {**params, "model": "TripoSG-broken"}, image)
            with pytest.raises(KilnError) as failed:
                client.wait(job, timeout=300)
            assert "diffusion_pytorch_model.safetensors" in failed.value.message
            assert "decoder.proj_out.weight" in failed.value.message

            for name in ("TripoSG-tiny", "Hunyuan3D-2.1-tiny"):
                job = client.submit("generate", {**params, "model": name}, image)
                mesh = client.wait(job, timeout=300)["mesh"]
                assert mesh.num_faces > 0 and np.isfinite(mesh.positions).all()
                assert mesh.info["model"] == name
            assert set(client.unload()["unloaded"]) == {"TripoSG-tiny", "Hunyuan3D-2.1-tiny"}
        assert srv.process.poll() is None


def test_text_only_request_is_refused_clearly(models_dir):
    from backend.models.registry import configure
    from backend.ops import generate
    from backend.runtime import CancelToken

    configure(models_dir, "cpu")
    try:
        with pytest.raises(OpError, match="needs an image"):
            generate.run({}, {"prompt": "a chair", "model": "TripoSG-tiny"}, lambda *a: None, CancelToken())
    finally:
        configure(None, "cpu")
