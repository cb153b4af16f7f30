"""Hunyuan3D-2.1 shape from its published layout: ckpt / safetensors, names, sign, sampler, import."""
import numpy as np
import pytest
import torch
import yaml

from backend.models.published import Hunyuan3DModel, detect_layout, load_published, weights
from backend.models.published.hunyuan_dit import HunyuanDiTConfig, HunYuanDiTPlain, MoEBlock
from backend.models.published.hunyuan_vae import EncoderLayout, HunyuanShapeVAE, HunyuanVAEConfig
from backend.models.published.sampling import hunyuan_schedule, sample
from backend.runtime import CancelToken, OpError
from tests.platform_helpers.published import (hunyuan_dit_rules, hunyuan_state, hunyuan_vae_rules,
                                              make_hunyuan_folder, rgba_disc, tiny_hunyuan_config)

RELEASE_DIT = {"input_size": 4096, "in_channels": 64, "hidden_size": 2048, "context_dim": 1024, "depth": 21,
               "num_heads": 16, "qk_norm": True, "text_len": 1370, "with_decoupled_ca": False,
               "use_attention_pooling": False, "qk_norm_type": "rms", "qkv_bias": False, "use_pos_emb": False,
               "num_moe_layers": 6, "num_experts": 8, "moe_top_k": 2}
RELEASE_VAE = {"num_latents": 4096, "embed_dim": 64, "num_freqs": 8, "include_pi": False, "heads": 16, "width": 1024,
               "num_encoder_layers": 8, "num_decoder_layers": 16, "qkv_bias": False, "qk_norm": True,
               "scale_factor": 1.0039506158752403, "geo_decoder_mlp_expand_ratio": 4, "geo_decoder_downsample_ratio": 1,
               "geo_decoder_ln_post": True, "point_feats": 4, "pc_size": 81920, "pc_sharpedge_size": 0}


@pytest.fixture(scope="module")
def ckpt_folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("hy") / "Hunyuan3D-2.1"
    return root, make_hunyuan_folder(root)


@pytest.fixture(scope="module")
def model(ckpt_folder):
    return load_published(ckpt_folder[0])


@pytest.mark.parametrize("dit, vae", [(tiny_hunyuan_config()["model"]["params"], tiny_hunyuan_config()["vae"]["params"]),
                                      (RELEASE_DIT, RELEASE_VAE)])
def test_parameter_names_and_shapes_follow_hy3dshape(dit, vae):
    with torch.device("meta"):
        ours_dit = HunYuanDiTPlain(HunyuanDiTConfig.from_params(dit))
        config = HunyuanVAEConfig.from_params(vae)
        ours_vae = {**weights.expected_shapes(HunyuanShapeVAE(config)), **weights.expected_shapes(EncoderLayout(config))}
    assert weights.expected_shapes(ours_dit) == hunyuan_dit_rules(dit)
    assert ours_vae == hunyuan_vae_rules(vae)
    if dit is RELEASE_DIT:  # the published 3.3B: DiT ~2.9B (MoE in the last 6 blocks), VAE decoder side ~0.2B
        assert 2.5e9 < sum(torch.Size(s).numel() for s in ours_vae.values()) + \
            sum(p.numel() for p in ours_dit.parameters()) < 3.5e9


@pytest.mark.parametrize("fmt, parent", [("ckpt", True), ("safetensors", False)])
def test_both_file_formats_round_trip(tmp_path, fmt, parent):
    state = make_hunyuan_folder(tmp_path / "m", fmt=fmt, parent=parent)
    assert detect_layout(tmp_path / "m") == "hunyuan3d-2.1"
    m = load_published(tmp_path / "m")
    assert isinstance(m, Hunyuan3DModel) and m.dtype == torch.float32
    dit_state = m.dit.state_dict()
    assert set(dit_state) == set(state["model"])
    assert all(torch.equal(dit_state[k], v) for k, v in state["model"].items())
    vae_state = m.vae.state_dict()
    assert set(vae_state) <= set(state["vae"]) and "post_kl.weight" in vae_state
    assert not any(k.startswith(("encoder.", "pre_kl.")) for k in vae_state)   # checked, not kept
    assert all(torch.equal(vae_state[k], state["vae"][k]) for k in vae_state)


def test_contract_shapes_and_time_units(model):
    latents = torch.randn(2, 16, 8, generator=torch.Generator().manual_seed(0))
    sdf = model.decode_sdf(latents, torch.rand(2, 40, 3) * 2 - 1)
    assert sdf.shape == (2, 40) and torch.isfinite(sdf).all()
    cond = torch.randn(2, 5, 32)
    v = model.velocity(latents, 0.25, cond)
    assert v.shape == latents.shape
    assert torch.allclose(v, model.dit(latents, torch.full((2,), 0.25), cond))
    assert torch.equal(v, model.velocity(latents, torch.full((2,), 0.25), {"main": cond}))


def _occupied_at_positive_x(state):
    """VAE weights whose geo decoder logit is +k*sign(x): Hunyuan calls that inside (DMC's sdf = -logit)."""
    vae = dict(state["vae"])
    block = "geo_decoder.cross_attn_decoder"
    for name in (f"{block}.attn.c_proj.weight", f"{block}.attn.c_proj.bias", f"{block}.mlp.c_proj.weight",
                 f"{block}.mlp.c_proj.bias", "geo_decoder.query_proj.bias", "geo_decoder.ln_post.bias",
                 "geo_decoder.output_proj.bias"):
        vae[name] = torch.zeros_like(vae[name])
    query = torch.zeros_like(vae["geo_decoder.query_proj.weight"])
    query[0, 0], query[1, 0] = 1.0, -1.0
    vae["geo_decoder.query_proj.weight"] = query
    vae["geo_decoder.ln_post.weight"] = torch.ones_like(vae["geo_decoder.ln_post.weight"])
    out = torch.zeros_like(vae["geo_decoder.output_proj.weight"])
    out[0, 0] = 1.0
    vae["geo_decoder.output_proj.weight"] = out
    return {**state, "vae": vae}


def test_decode_sdf_is_negative_where_hunyuan_says_inside(tmp_path):
    config = tiny_hunyuan_config()
    make_hunyuan_folder(tmp_path / "m", state=_occupied_at_positive_x(hunyuan_state(config, conditioner=False)))
    m = load_published(tmp_path / "m")
    queries = torch.tensor([[[0.5, 0.1, -0.2], [0.3, -0.7, 0.4], [-0.5, 0.2, 0.0], [-0.3, 0.6, -0.6]]])
    tokens = m.vae(torch.randn(1, 16, 8))
    logits = m.vae.geo_decoder(queries, tokens)[..., 0]
    assert (logits[0, :2] > 0).all() and (logits[0, 2:] < 0).all()
    sdf = m.decode_sdf(torch.randn(1, 16, 8), queries)
    assert (sdf[0, :2] < 0).all() and (sdf[0, 2:] > 0).all() and torch.allclose(sdf, -logits)


def test_schedule_and_direction_match_hy3dshape():
    schedule = hunyuan_schedule(5)
    assert np.allclose(schedule.times, [0, 0.25, 0.5, 0.75, 1.0])   # linspace(0, 1, n): 0 is noise
    assert np.allclose(schedule.steps, [0.25, 0.25, 0.25, 0.25, 0.0])
    target = torch.randn(1, 6, 8, generator=torch.Generator().manual_seed(2))

    def oracle(x, t, cond):  # x_t = t x0 + (1 - t) noise, v = x0 - noise
        t = t.view(-1, 1, 1)
        return torch.where(t < 1, (target - x) / (1 - t).clamp_min(1e-6), torch.zeros_like(x))

    cond = torch.zeros(1, 2, 3)
    out = sample(oracle, (1, 6, 8), cond, cond, hunyuan_schedule(12), guidance=5.0, guided=True, uncond_first=False,
                 seed=0, device="cpu", dtype=torch.float32)
    assert torch.allclose(out, target, atol=1e-4)


def test_moe_routes_each_token_to_its_top_experts():
    torch.manual_seed(0)
    moe = MoEBlock(8, num_experts=3, top_k=2)
    torch.nn.init.normal_(moe.gate.weight)
    x = torch.randn(2, 5, 8)
    scores = (x.reshape(-1, 8) @ moe.gate.weight.T).softmax(-1)
    expected = moe.shared_experts(x).reshape(-1, 8).clone()
    for row in range(10):
        for e in scores[row].topk(2).indices.tolist():
            expected[row] += scores[row, e] * moe.experts[e](x.reshape(-1, 8)[row])
    assert torch.allclose(moe(x).reshape(-1, 8), expected, atol=1e-6)


def test_sampling_deterministic_and_image_to_mesh(model):
    cond = torch.randn(1, 5, 32, generator=torch.Generator().manual_seed(0))
    settings = model.settings({"steps": 3})
    a = model.sample_latents(cond, torch.zeros_like(cond), {**settings, "seed": 2})
    assert torch.equal(a, model.sample_latents(cond, torch.zeros_like(cond), {**settings, "seed": 2}))
    assert not torch.allclose(a, model.sample_latents(cond, torch.zeros_like(cond), {**settings, "seed": 3}))
    mesh = model.generate(None, rgba_disc(), {"steps": 2, "resolution": 32, "seed": 0}, lambda *a: None, CancelToken())
    assert mesh.num_faces > 0 and np.isfinite(mesh.positions).all()
    states, uncond = model.encode_image(rgba_disc())
    assert states.shape == (1, 5, 32) and not uncond.any()


def test_checkpoint_without_conditioner_loads_its_shape_parts(tmp_path):
    make_hunyuan_folder(tmp_path / "m", conditioner=False, encoder=False)
    m = load_published(tmp_path / "m")
    assert m.decode_sdf(torch.randn(1, 16, 8), torch.zeros(1, 2, 3)).shape == (1, 2)
    with pytest.raises(OpError, match="no conditioner"):
        m.encode_image(rgba_disc())


def _mutate(state, what):
    state = {k: dict(v) for k, v in state.items()}
    if what == "missing":
        del state["model"]["blocks.2.moe.experts.1.net.2.weight"]
    elif what == "extra":
        state["vae"]["geo_decoder.extra.weight"] = torch.zeros(2)
    elif what == "shape":
        state["model"]["x_embedder.weight"] = torch.zeros(32, 9)
    elif what == "partial-encoder":
        del state["vae"]["encoder.ln_post.weight"]
    return state


@pytest.mark.parametrize("what, message", [
    ("missing", "missing tensor model.blocks.2.moe.experts.1.net.2.weight"),
    ("extra", "unexpected tensor vae.geo_decoder.extra.weight"),
    ("shape", r"tensor model.x_embedder.weight has shape \(32, 9\) but .*config.yaml gives \(32, 8\)"),
    ("partial-encoder", "tensor vae.encoder.ln_post.weight is missing"),
])
def test_bad_checkpoints_name_the_file_and_the_tensor(tmp_path, what, message):
    config = tiny_hunyuan_config()
    make_hunyuan_folder(tmp_path / "m", state=_mutate(hunyuan_state(config, conditioner=False), what))
    with pytest.raises(OpError, match=message) as info:
        load_published(tmp_path / "m")
    assert "model.fp16.ckpt" in str(info.value)


def test_config_disagreeing_with_weights_and_unsupported_targets(tmp_path):
    make_hunyuan_folder(tmp_path / "m", conditioner=False)
    path = tmp_path / "m" / "hunyuan3d-dit-v2-1" / "config.yaml"
    config = yaml.safe_load(path.read_text())
    config["vae"]["params"]["width"] = 24
    path.write_text(yaml.safe_dump(config))
    with pytest.raises(OpError, match=r"model.fp16.ckpt: tensor vae.post_kl.weight has shape \(16, 8\)"):
        load_published(tmp_path / "m")
    config["model"]["target"] = "hy3dgen.shapegen.models.Hunyuan3DDiT"
    path.write_text(yaml.safe_dump(config))
    with pytest.raises(OpError, match="config.yaml: model.target"):
        load_published(tmp_path / "m")


class Payload:
    """Stands for any Python object a hostile checkpoint could carry."""

    def __reduce__(self):
        return (print, ("unpickled!",))


def test_pickled_objects_are_refused(tmp_path):
    """Only weights_only loading: a .ckpt holding arbitrary Python objects is not unpickled."""
    folder = tmp_path / "m" / "hunyuan3d-dit-v2-1"
    make_hunyuan_folder(tmp_path / "m", conditioner=False)
    torch.save({"model": {"x": Payload()}, "vae": {}}, folder / "model.fp16.ckpt")
    with pytest.raises(OpError, match="weights-only"):
        load_published(tmp_path / "m")


def test_models_import_converts_ckpt_to_safetensors(tmp_path, capsys):
    from backend.cli import main
    from backend.models.published.weights import safetensors_shapes

    state = make_hunyuan_folder(tmp_path / "m")
    assert main(["models", "import", str(tmp_path / "m")]) == 0
    out = tmp_path / "m" / "hunyuan3d-dit-v2-1" / "model.fp16.safetensors"
    assert out.is_file() and "model.fp16.safetensors" in capsys.readouterr().out
    shapes = safetensors_shapes(out)
    assert len(shapes) == sum(len(d) for d in state.values()) and "conditioner.main_image_encoder.model." \
        "embeddings.cls_token" in shapes
    m = load_published(tmp_path / "m")           # the safetensors file is now the one read
    assert torch.equal(m.dit.state_dict()["x_embedder.weight"], state["model"]["x_embedder.weight"])
    assert main(["models", "import", str(tmp_path)]) == 1
