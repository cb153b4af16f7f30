"""TripoSG from its published folder layout: names, round trip, sign, sampler, images, bad folders."""
import json

import numpy as np
import pytest
import torch

from backend.models.published import TripoSGModel, detect_layout, load_published, weights
from backend.models.published.sampling import sample, triposg_schedule
from backend.models.shape_flow import FlowConfig, ShapeFlowTransformer
from backend.models.shape_vae import ShapeVAE, VAEConfig
from backend.runtime import CancelToken, OpError
from tests.platform_helpers.published import (TINY_TRIPOSG_DIT, TINY_TRIPOSG_VAE, make_triposg_folder, rgba_disc,
                                              triposg_dit_rules, triposg_vae_rules)

RELEASE_VAE = {"in_channels": 3, "latent_channels": 64, "num_attention_heads": 8, "width_encoder": 512,
               "width_decoder": 1024, "num_layers_encoder": 8, "num_layers_decoder": 16, "embed_frequency": 8}
RELEASE_DIT = {"num_attention_heads": 16, "width": 2048, "in_channels": 64, "num_layers": 21,
               "cross_attention_dim": 1024}


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("tsg") / "TripoSG"
    written = make_triposg_folder(root)
    return root, written


@pytest.fixture(scope="module")
def model(folder):
    return load_published(folder[0], device="cpu")


@pytest.mark.parametrize("vae, dit", [(TINY_TRIPOSG_VAE, TINY_TRIPOSG_DIT), (RELEASE_VAE, RELEASE_DIT),
                                      (TINY_TRIPOSG_VAE, {**TINY_TRIPOSG_DIT, "use_cross_attention_2": True,
                                                          "cross_attention_2_dim": 24})])
def test_parameter_names_and_shapes_follow_triposg(vae, dit):
    with torch.device("meta"):
        ours_vae = ShapeVAE(VAEConfig.from_dict(vae))
        ours_dit = ShapeFlowTransformer(FlowConfig.from_dict(dit))
    assert weights.expected_shapes(ours_vae) == triposg_vae_rules({"embed_frequency": 8, **vae})
    assert weights.expected_shapes(ours_dit) == triposg_dit_rules(dit)


def test_layout_detected_and_weights_round_trip(folder, model):
    root, written = folder
    assert detect_layout(root) == "triposg" and detect_layout(root / "vae") is None
    assert isinstance(model, TripoSGModel) and model.dtype == torch.float32
    for part, module in (("vae", model.vae), ("transformer", model.transformer)):
        state = module.state_dict()
        assert set(state) == set(written[part])
        for name, tensor in written[part].items():
            assert torch.equal(state[name], tensor), name


def test_decode_sdf_shape_and_velocity_units(model):
    latents = torch.randn(2, 16, 4, generator=torch.Generator().manual_seed(0))
    queries = torch.rand(2, 50, 3, generator=torch.Generator().manual_seed(1)) * 2 - 1
    sdf = model.decode_sdf(latents, queries)
    assert sdf.shape == (2, 50) and torch.isfinite(sdf).all()
    cond = torch.randn(2, 5, 32)
    v = model.velocity(latents, 500.0, cond)
    assert v.shape == latents.shape
    # t is the publisher's 1000*sigma, handed to the DiT unchanged
    direct = model.transformer(latents, torch.full((2,), 500.0), cond)
    assert torch.allclose(v, direct)
    assert torch.equal(v, model.velocity(latents, torch.full((2,), 500.0), {"encoder_hidden_states": cond}))
    assert not torch.allclose(v, model.velocity(latents, 0.5, cond))


def _plane_decoder(seed=0, axis=0, offset=0.0):
    """VAE weights whose decoder output is known: proj_out = -k*sign(x) with everything else inert.

    TripoSG's decoder returns ``-proj_out`` and its extraction calls positive values occupied,
    so for these weights the publisher's own code puts the inside at x > 0.
    """
    from tests.platform_helpers.published import random_tensors
    tensors = random_tensors(triposg_vae_rules(TINY_TRIPOSG_VAE), torch.Generator().manual_seed(seed))
    last = f"decoder.blocks.{TINY_TRIPOSG_VAE['num_layers_decoder']}"
    for name in (f"{last}.attn2.to_out.0.weight", f"{last}.attn2.to_out.0.bias", f"{last}.ff.net.2.weight",
                 f"{last}.ff.net.2.bias", "decoder.proj_query.bias", "decoder.norm_out.bias", "decoder.proj_out.bias"):
        tensors[name] = torch.zeros_like(tensors[name])
    proj_query = torch.zeros_like(tensors["decoder.proj_query.weight"])
    proj_query[0, axis], proj_query[1, axis] = 1.0, -1.0    # embedding columns 0-2 are x, y, z
    tensors["decoder.proj_query.weight"] = proj_query
    tensors["decoder.proj_query.bias"][:2] = torch.tensor([-offset, offset])
    tensors["decoder.norm_out.weight"] = torch.ones_like(tensors["decoder.norm_out.weight"])
    proj_out = torch.zeros_like(tensors["decoder.proj_out.weight"])
    proj_out[0, 0] = -1.0
    tensors["decoder.proj_out.weight"] = proj_out
    return tensors


def test_decode_sdf_is_negative_where_triposg_says_occupied(tmp_path):
    make_triposg_folder(tmp_path / "plane", dino=False, vae_tensors=_plane_decoder())
    plane = load_published(tmp_path / "plane")
    queries = torch.tensor([[[0.5, 0.1, -0.2], [0.3, -0.7, 0.4], [-0.5, 0.2, 0.0], [-0.3, 0.6, -0.6]]])
    raw = -plane.vae.decoder.query(plane.vae.embedder(queries), plane.decoder_tokens(torch.randn(1, 16, 4)))
    assert (raw[0, :2] > 0).all() and (raw[0, 2:] < 0).all()    # their decoder output: occupied at x > 0
    sdf = plane.decode_sdf(torch.randn(1, 16, 4), queries)
    assert (sdf[0, :2] < 0).all() and (sdf[0, 2:] > 0).all()
    assert torch.allclose(sdf, -raw)                              # negated, not rescaled


def test_publisher_up_becomes_blender_up(tmp_path):
    """Occupied above y = 0.3 in TripoSG's Y-up frame: the surface comes out at Blender z = 0.3."""
    make_triposg_folder(tmp_path / "up", vae_tensors=_plane_decoder(axis=1, offset=0.3))
    up = load_published(tmp_path / "up")
    mesh = up.generate(None, rgba_disc(), {"steps": 1, "resolution": 32, "num_tokens": 16}, lambda *a: None,
                       CancelToken())
    z = mesh.positions[:, 2]
    assert mesh.num_faces > 0 and np.allclose(z, 0.3, atol=2 * 2.01 / 32)
    assert np.ptp(mesh.positions[:, 0]) > 1.5 and np.ptp(mesh.positions[:, 1]) > 1.5


def test_schedule_matches_rectified_flow_scheduler():
    schedule = triposg_schedule(4, shift=1.0)
    assert np.allclose(schedule.times, [1000, 750, 500, 250]) and np.allclose(schedule.steps, 0.25)
    shifted = triposg_schedule(4, shift=3.0)
    assert np.isclose(shifted.times[0], 1000) and np.isclose(shifted.times[2], 1000 * 1.5 / 2.0)
    assert np.isclose(shifted.steps.sum(), 1.0)


def test_sampler_direction_reaches_the_data_with_an_exact_velocity():
    """With TripoSG's v = x0 - noise, integrating its schedule lands on x0."""
    target = torch.randn(1, 8, 4, generator=torch.Generator().manual_seed(3))

    def oracle(x, t, cond):
        sigma = (t / 1000.0).view(-1, 1, 1)
        return -(x - target) / sigma

    cond = torch.zeros(1, 2, 3)
    out = sample(oracle, (1, 8, 4), cond, cond, triposg_schedule(10, shift=2.0), guidance=7.0, guided=True,
                 uncond_first=True, seed=0, device="cpu", dtype=torch.float32)
    assert torch.allclose(out, target, atol=1e-4)


def test_sampling_is_deterministic_by_seed(model):
    cond = torch.randn(1, 5, 32, generator=torch.Generator().manual_seed(0))
    settings = model.settings({"steps": 3, "num_tokens": 16})
    a = model.sample_latents(cond, torch.zeros_like(cond), {**settings, "seed": 4})
    b = model.sample_latents(cond, torch.zeros_like(cond), {**settings, "seed": 4})
    c = model.sample_latents(cond, torch.zeros_like(cond), {**settings, "seed": 5})
    assert torch.equal(a, b) and not torch.allclose(a, c)
    with pytest.raises(Exception, match="cancel"):
        token = CancelToken()
        token.cancel()
        model.sample_latents(cond, torch.zeros_like(cond), settings, cancel=token)


def test_image_to_mesh_in_process(model):
    stages = []
    mesh = model.generate(None, rgba_disc(), {"steps": 2, "resolution": 32, "num_tokens": 16, "seed": 1},
                          lambda f, s, m="": stages.append(s), CancelToken())
    assert mesh.num_faces > 0 and np.isfinite(mesh.positions).all()
    assert np.abs(mesh.positions).max() <= 1.005 + 1e-4
    assert {"encode", "sample", "extract"} <= set(stages)
    assert mesh.info["family"] == "triposg"
    cond, _ = model.encode_image(rgba_disc())
    assert cond.shape == (1, 5, 32)        # CLS + 2x2 patches of the 28-px tiny DINOv2


def test_image_encoder_is_lazy_and_optional(tmp_path):
    make_triposg_folder(tmp_path / "nodino", dino=False)
    m = load_published(tmp_path / "nodino")
    assert m._encoder is None
    assert m.decode_sdf(torch.randn(1, 16, 4), torch.zeros(1, 3, 3)).shape == (1, 3)
    with pytest.raises(OpError, match="image_encoder_dinov2"):
        m.generate(None, rgba_disc(), {"steps": 1, "resolution": 32}, lambda *a: None, CancelToken())


def _break(root, what):
    from safetensors.torch import load_file, save_file
    path = root / "transformer" / "diffusion_pytorch_model.safetensors"
    tensors = load_file(str(path))
    if what == "missing":
        del tensors["blocks.1.attn2.to_k.weight"]
    elif what == "extra":
        tensors["blocks.1.attn2.bonus"] = torch.zeros(3)
    elif what == "shape":
        tensors["proj_in.weight"] = torch.zeros(16, 5)
    elif what == "config":
        config = json.loads((root / "transformer" / "config.json").read_text())
        (root / "transformer" / "config.json").write_text(json.dumps({**config, "width": 24}))
    save_file(tensors, str(path))


@pytest.mark.parametrize("what, message", [
    ("missing", "missing tensor blocks.1.attn2.to_k.weight"),
    ("extra", "unexpected tensor blocks.1.attn2.bonus"),
    ("shape", r"tensor proj_in.weight has shape \(16, 5\)"),
    ("config", r"tensor time_proj.linear_1.weight has shape \(64, 16\) but .*config.json gives \(96, 24\)"),
])
def test_bad_folders_name_the_file_and_the_tensor(tmp_path, what, message):
    make_triposg_folder(tmp_path / "bad", dino=False)
    _break(tmp_path / "bad", what)
    with pytest.raises(OpError, match=message) as info:
        load_published(tmp_path / "bad")
    assert "diffusion_pytorch_model.safetensors" in str(info.value)


def test_wrong_scheduler_and_not_a_folder(tmp_path):
    make_triposg_folder(tmp_path / "m", dino=False)
    (tmp_path / "m" / "scheduler" / "scheduler_config.json").write_text('{"_class_name": "DDIMScheduler"}')
    with pytest.raises(OpError, match="scheduler_config.json: _class_name"):
        load_published(tmp_path / "m")
    with pytest.raises(OpError, match="not a published model folder"):
        load_published(tmp_path)
