"""The shape VAE and flow transformer: TripoSG parameter layout, fused heads, save/load, sampler."""
import json

import numpy as np
import pytest
import torch

from backend.models.attention_blocks import Attention
from backend.models.checkpoint import CheckpointError, load_into, module_tensors, read_tensors, save_checkpoint
from backend.models.shape_flow import FlowConfig, ShapeFlowTransformer, flow_sigmas, sample_latents
from backend.models.shape_vae import ShapeVAE, VAEConfig, farthest_point_sample
from backend.runtime import CancelToken, Cancelled

TINY_VAE = VAEConfig(latent_channels=4, num_attention_heads=2, width_encoder=16, width_decoder=24,
                     num_layers_encoder=2, num_layers_decoder=3, embed_frequency=4, num_tokens=8)
TINY_FLOW = FlowConfig(num_attention_heads=2, width=16, in_channels=4, num_layers=5, cross_attention_dim=12,
                       use_cross_attention_2=True, cross_attention_2_dim=10)


# ----------------------------------------------------------------------------- published layout
# Written from TripoSG's released autoencoder_kl_triposg.py / triposg_transformer.py (diffusers
# Attention, FeedForward, FP32LayerNorm, TimestepEmbedding): names and shapes as rules of the config.

def _attention(prefix, width, context, heads, qk_norm, norm_cross):
    keys = {f"{prefix}.to_q.weight": (width, width), f"{prefix}.to_k.weight": (width, context),
            f"{prefix}.to_v.weight": (width, context), f"{prefix}.to_out.0.weight": (width, width),
            f"{prefix}.to_out.0.bias": (width,)}
    if qk_norm:
        keys[f"{prefix}.norm_q.weight"] = (width // heads,)
        keys[f"{prefix}.norm_k.weight"] = (width // heads,)
    if norm_cross:
        keys[f"{prefix}.norm_cross.weight"] = (context,)
        keys[f"{prefix}.norm_cross.bias"] = (context,)
    return keys


def _norm(prefix, width):
    return {f"{prefix}.weight": (width,), f"{prefix}.bias": (width,)}


def _block(prefix, width, heads, self_attn=True, cross=None, cross_norm=False, cross_2=None, skip=False,
           qk_norm=False):
    keys = {}
    if skip:
        keys.update(_norm(f"{prefix}.skip_norm", width))
        keys[f"{prefix}.skip_linear.weight"] = (width, 2 * width)
        keys[f"{prefix}.skip_linear.bias"] = (width,)
    if self_attn:
        keys.update(_norm(f"{prefix}.norm1", width))
        keys.update(_attention(f"{prefix}.attn1", width, width, heads, qk_norm, False))
    if cross:
        keys.update(_norm(f"{prefix}.norm2", width))
        keys.update(_attention(f"{prefix}.attn2", width, cross, heads, qk_norm, cross_norm))
    if cross_2:
        keys.update(_norm(f"{prefix}.norm2_2", width))
        keys.update(_attention(f"{prefix}.attn2_2", width, cross_2, heads, qk_norm, False))
    keys.update(_norm(f"{prefix}.norm3", width))
    keys.update({f"{prefix}.ff.net.0.proj.weight": (4 * width, width), f"{prefix}.ff.net.0.proj.bias": (4 * width,),
                 f"{prefix}.ff.net.2.weight": (width, 4 * width), f"{prefix}.ff.net.2.bias": (width,)})
    return keys


def published_vae_layout(c: VAEConfig) -> dict:
    embed = 3 * (2 * c.embed_frequency + 1)
    we, wd, h = c.width_encoder, c.width_decoder, c.num_attention_heads
    keys = {"encoder.proj_in.weight": (we, embed + 3), "encoder.proj_in.bias": (we,)}
    keys.update(_block("encoder.blocks.0", we, h, self_attn=False, cross=we, cross_norm=True))
    for i in range(1, c.num_layers_encoder + 1):
        keys.update(_block(f"encoder.blocks.{i}", we, h))
    keys.update(_norm("encoder.norm_out", we))
    keys.update({"quant.weight": (2 * c.latent_channels, we), "quant.bias": (2 * c.latent_channels,),
                 "post_quant.weight": (wd, c.latent_channels), "post_quant.bias": (wd,)})
    for i in range(c.num_layers_decoder):
        keys.update(_block(f"decoder.blocks.{i}", wd, h))
    keys.update(_block(f"decoder.blocks.{c.num_layers_decoder}", wd, h, self_attn=False, cross=wd, cross_norm=True))
    keys.update({"decoder.proj_query.weight": (wd, embed), "decoder.proj_query.bias": (wd,),
                 "decoder.proj_out.weight": (1, wd), "decoder.proj_out.bias": (1,)})
    keys.update(_norm("decoder.norm_out", wd))
    return keys


def published_flow_layout(c: FlowConfig) -> dict:
    w = c.width
    keys = {"time_proj.linear_1.weight": (4 * w, w), "time_proj.linear_1.bias": (4 * w,),
            "time_proj.linear_2.weight": (w, 4 * w), "time_proj.linear_2.bias": (w,),
            "proj_in.weight": (w, c.in_channels), "proj_in.bias": (w,),
            "proj_out.weight": (c.in_channels, w), "proj_out.bias": (c.in_channels,)}
    keys.update(_norm("norm_out", w))
    for i in range(c.num_layers):
        keys.update(_block(f"blocks.{i}", w, c.num_attention_heads, cross=c.cross_attention_dim,
                           cross_2=c.cross_attention_2_dim if c.use_cross_attention_2 else None,
                           skip=i > c.num_layers // 2, qk_norm=True))
    return keys


def _shapes(module):
    return {k: tuple(v.shape) for k, v in module.state_dict().items()}


def test_vae_parameter_names_match_published_layout():
    assert _shapes(ShapeVAE(TINY_VAE)) == published_vae_layout(TINY_VAE)


@pytest.mark.parametrize("config", [TINY_FLOW, FlowConfig(num_attention_heads=2, width=8, in_channels=3,
                                                          num_layers=3, cross_attention_dim=5)])
def test_flow_parameter_names_match_published_layout(config):
    assert _shapes(ShapeFlowTransformer(config)) == published_flow_layout(config)


def test_published_default_sizes_build_on_meta_device():
    """TripoSG's released sizes (the class defaults) give the published layout too, without allocating."""
    with torch.device("meta"):
        vae, flow = ShapeVAE(VAEConfig()), ShapeFlowTransformer(FlowConfig())
    assert _shapes(vae) == published_vae_layout(VAEConfig())
    assert _shapes(flow) == published_flow_layout(FlowConfig())
    assert sum(p.numel() for p in flow.parameters()) > 1.4e9


def test_config_reads_diffusers_json_and_ignores_private_keys():
    data = {"_class_name": "TripoSGVAEModel", "_diffusers_version": "0.32", **TINY_VAE.to_dict()}
    assert VAEConfig.from_dict(data) == TINY_VAE
    with pytest.raises(ValueError, match="embedding_type"):
        VAEConfig.from_dict({"embedding_type": "learned"})
    with pytest.raises(ValueError, match="cross_attention_2_dim"):
        FlowConfig.from_dict({"use_cross_attention_2": True})


# ---------------------------------------------------------------------------- fused head layout

def _reference_attention(attn: Attention, x, context):
    """Heads split before q/k/v: head h reads slice h of the per-position concatenation, written
    out with explicit loops (no shared code with the module)."""
    heads, dim = attn.heads, attn.head_dim
    q = x @ attn.to_q.weight.T
    ctx = x if context is None else context
    k, v = ctx @ attn.to_k.weight.T, ctx @ attn.to_v.weight.T
    outs = []
    for h in range(heads):
        if context is None:
            fused = torch.cat([q, k, v], dim=-1)
            qh = fused[..., h * 3 * dim: h * 3 * dim + dim]
            kh = fused[..., h * 3 * dim + dim: h * 3 * dim + 2 * dim]
            vh = fused[..., h * 3 * dim + 2 * dim: (h + 1) * 3 * dim]
        else:
            fused = torch.cat([k, v], dim=-1)
            qh = q[..., h * dim:(h + 1) * dim]
            kh = fused[..., h * 2 * dim: h * 2 * dim + dim]
            vh = fused[..., h * 2 * dim + dim:(h + 1) * 2 * dim]
        weights = torch.softmax(qh @ kh.transpose(-1, -2) / dim ** 0.5, dim=-1)
        outs.append(weights @ vh)
    return attn.to_out[0](torch.cat(outs, dim=-1))


@pytest.mark.parametrize("cross", [False, True])
def test_attention_splits_heads_like_the_released_models(cross):
    torch.manual_seed(0)
    attn = Attention(12, heads=3, cross_attention_dim=7 if cross else None)
    x = torch.randn(2, 5, 12)
    context = torch.randn(2, 4, 7) if cross else None
    ours = attn(x, context)
    torch.testing.assert_close(ours, _reference_attention(attn, x, context), atol=1e-5, rtol=1e-5)
    # and it is *not* the usual (3, heads, dim) split, so loading published weights depends on it
    standard = torch.nn.functional.scaled_dot_product_attention(
        *(t.view(2, -1, 3, 4).transpose(1, 2) for t in (attn.to_q(x), attn.to_k(context if cross else x),
                                                         attn.to_v(context if cross else x))))
    assert not torch.allclose(ours, attn.to_out[0](standard.transpose(1, 2).reshape(2, 5, 12)), atol=1e-4)


def test_fully_masked_context_row_does_not_produce_nan():
    attn = Attention(8, heads=2, cross_attention_dim=6)
    out = attn(torch.randn(1, 3, 8), torch.zeros(1, 4, 6), torch.zeros(1, 4, dtype=torch.bool))
    assert torch.isfinite(out).all()


# ------------------------------------------------------------------------------ save / load path

def test_tiny_model_round_trips_through_safetensors_and_json(tmp_path):
    torch.manual_seed(1)
    vae, flow = ShapeVAE(TINY_VAE), ShapeFlowTransformer(TINY_FLOW)
    config = {"format": "kiln-shape", "vae": TINY_VAE.to_dict(), "transformer": TINY_FLOW.to_dict()}
    save_checkpoint(tmp_path / "tiny", module_tensors({"vae": vae, "transformer": flow}), config)
    stored = json.loads((tmp_path / "tiny.json").read_text())
    vae2 = ShapeVAE(VAEConfig.from_dict(stored["vae"]))
    flow2 = ShapeFlowTransformer(FlowConfig.from_dict(stored["transformer"]))
    tensors = read_tensors(tmp_path / "tiny.safetensors")
    load_into(vae2, tensors, "vae")
    load_into(flow2, tensors, "transformer")
    points = torch.rand(1, 64, 3) * 2 - 1
    normals = torch.nn.functional.normalize(torch.randn(1, 64, 3), dim=-1)
    queries = torch.rand(1, 50, 3)
    with torch.no_grad():
        mean1, _ = vae.encode(points, normals)
        mean2, _ = vae2.encode(points, normals)
        torch.testing.assert_close(mean1, mean2)
        torch.testing.assert_close(vae.query(vae.decode_tokens(mean1), queries),
                                   vae2.query(vae2.decode_tokens(mean2), queries))


def test_loading_into_a_different_config_names_the_mismatch(tmp_path):
    vae = ShapeVAE(TINY_VAE)
    save_checkpoint(tmp_path / "v", module_tensors({"vae": vae}), {})
    tensors = read_tensors(tmp_path / "v.safetensors")
    bigger = VAEConfig(**{**TINY_VAE.to_dict(), "width_decoder": 32})
    with pytest.raises(CheckpointError, match="shape mismatch"):
        load_into(ShapeVAE(bigger), tensors, "vae")
    deeper = VAEConfig(**{**TINY_VAE.to_dict(), "num_layers_decoder": 4})
    with pytest.raises(CheckpointError, match="missing"):
        load_into(ShapeVAE(deeper), tensors, "vae")
    with pytest.raises(CheckpointError, match="not found"):
        read_tensors(tmp_path / "absent.safetensors")


# ------------------------------------------------------------------------------------ VAE pieces

def test_token_count_is_chosen_at_encode_time():
    vae = ShapeVAE(TINY_VAE)
    points = torch.rand(2, 200, 3)
    normals = torch.nn.functional.normalize(torch.randn(2, 200, 3), dim=-1)
    for k in (4, 16, 32):
        mean, logvar = vae.encode(points, normals, num_tokens=k)
        assert mean.shape == logvar.shape == (2, k, TINY_VAE.latent_channels)
    with pytest.raises(ValueError, match="tokens"):
        vae.encode(points, normals, num_tokens=500)


def test_farthest_point_sample_spreads_points():
    grid = torch.stack(torch.meshgrid(*[torch.linspace(0, 1, 6)] * 3, indexing="ij"), -1).reshape(1, -1, 3)
    chosen = grid[0, farthest_point_sample(grid, 8)[0]]
    spacing = torch.pdist(chosen).min()
    # greedy FPS is within 2x of the best spread (8 cube corners: 1.0); the grid step is 0.2
    assert spacing >= 0.5
    assert torch.pdist(grid[0, :8]).min() < 0.25


# ----------------------------------------------------------------------------------------- sampler

def _conditions(seed=0):
    g = torch.Generator().manual_seed(seed)
    cond = {"context": torch.randn(1, 3, 12, generator=g), "context_mask": torch.tensor([[True, True, False]]),
            "context_2": torch.randn(1, 4, 10, generator=g), "context_2_mask": torch.ones(1, 4, dtype=torch.bool)}
    uncond = {k: torch.zeros_like(v) if v.dtype != torch.bool else torch.ones_like(v) for k, v in cond.items()}
    return cond, uncond


def test_sampler_is_deterministic_by_seed_and_reports_progress():
    torch.manual_seed(2)
    flow = ShapeFlowTransformer(TINY_FLOW).eval()
    cond, uncond = _conditions()
    seen = []
    a = sample_latents(flow, cond, uncond, num_tokens=6, steps=5, guidance=3.0, seed=7,
                       progress=lambda f, s, m="": seen.append((f, s)))
    b = sample_latents(flow, cond, uncond, num_tokens=6, steps=5, guidance=3.0, seed=7)
    c = sample_latents(flow, cond, uncond, num_tokens=6, steps=5, guidance=3.0, seed=8)
    assert torch.equal(a, b)
    assert not torch.allclose(a, c)
    assert [f for f, _ in seen] == pytest.approx([0.2, 0.4, 0.6, 0.8, 1.0])
    assert {s for _, s in seen} == {"sample"}



def test_a_batch_of_seeds_gives_each_seed_its_own_shape():
    """Several seeds in one batch: each row is what its seed gives alone (candidate sampling)."""
    torch.manual_seed(2)
    flow = ShapeFlowTransformer(TINY_FLOW).eval()
    cond, uncond = _conditions()
    batch = sample_latents(flow, cond, uncond, num_tokens=6, steps=4, guidance=3.0, seed=[7, 8, 9])
    assert batch.shape == (3, 6, TINY_FLOW.in_channels)
    for row, seed in enumerate((7, 8, 9)):
        alone = sample_latents(flow, cond, uncond, num_tokens=6, steps=4, guidance=3.0, seed=seed)
        assert torch.allclose(batch[row:row + 1], alone, atol=1e-5)
    assert not torch.allclose(batch[0], batch[1])

def test_guidance_changes_the_result_and_one_skips_the_unconditional_pass():
    torch.manual_seed(3)
    flow = ShapeFlowTransformer(TINY_FLOW).eval()
    cond, uncond = _conditions()
    plain = sample_latents(flow, cond, uncond, num_tokens=6, steps=3, guidance=1.0, seed=1)
    guided = sample_latents(flow, cond, uncond, num_tokens=6, steps=3, guidance=4.0, seed=1)
    assert not torch.allclose(plain, guided)


def test_sampler_cancels_inside_the_loop():
    flow = ShapeFlowTransformer(TINY_FLOW).eval()
    cond, uncond = _conditions()
    token = CancelToken()
    steps = []

    def progress(fraction, stage, message=""):
        steps.append(fraction)
        if len(steps) == 2:
            token.cancel()

    with pytest.raises(Cancelled):
        sample_latents(flow, cond, uncond, num_tokens=6, steps=10, seed=0, progress=progress, cancel=token)
    assert len(steps) == 2


def test_euler_integrates_a_known_velocity_field_exactly():
    """With velocity = noise - x0 for a fixed x0 (a perfect model), Euler lands on x0."""
    target = torch.full((1, 6, 4), 0.25)

    class Perfect(torch.nn.Module):
        config = TINY_FLOW

        def __init__(self):
            super().__init__()
            self.anchor = torch.nn.Parameter(torch.zeros(1))

        def forward(self, latents, timestep, **_):
            sigma = timestep[:, None, None] / 1000.0
            noise = (latents - (1 - sigma) * target) / sigma.clamp(min=1e-6)
            return noise - target

    cond, uncond = _conditions()
    out = sample_latents(Perfect(), cond, uncond, num_tokens=6, steps=4, guidance=1.0, seed=0)
    torch.testing.assert_close(out, target, atol=1e-5, rtol=0)
    sigmas = flow_sigmas(4, shift=3.0)
    assert sigmas[0] == 1 and sigmas[-1] == 0 and torch.all(sigmas[1:] < sigmas[:-1])
