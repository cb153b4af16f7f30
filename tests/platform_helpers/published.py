"""Parameter-name rules written from the publishers' code, and tiny model folders in their layouts.

The rules are derived by reading TripoSG's ``autoencoder_kl_triposg.py`` / ``triposg_transformer.py``
(diffusers ``Attention``: ``to_q``/``to_k``/``to_v`` without bias when ``qkv_bias=False``,
``to_out.0`` with bias, ``norm_q``/``norm_k`` RMSNorm weights, ``norm_cross`` LayerNorm for
``cross_attention_norm_type='layer_norm'``; ``FeedForward``: ``net.0.proj``, ``net.2``) and
Hunyuan3D-2.1's ``hunyuandit.py`` / ``moe_layers.py`` / ``attention_blocks.py``. They are kept
independent of Kiln's modules on purpose: the tests compare the two.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

# ------------------------------------------------------------------------------ rules: TripoSG


def _linear(prefix, out_dim, in_dim, bias=True):
    shapes = {f"{prefix}.weight": (out_dim, in_dim)}
    if bias:
        shapes[f"{prefix}.bias"] = (out_dim,)
    return shapes


def _norm(prefix, dim, bias=True):
    return {f"{prefix}.weight": (dim,), **({f"{prefix}.bias": (dim,)} if bias else {})}


def _triposg_block(prefix, dim, heads, *, self_attn, cross_dim=None, cross_norm=False, qk_norm=False,
                   cross_2_dim=None, skip=False):
    shapes = {}
    head_dim = dim // heads

    def attention(name, kv_dim, norm_cross):
        out = {**_linear(f"{prefix}.{name}.to_q", dim, dim, False), **_linear(f"{prefix}.{name}.to_k", dim, kv_dim, False),
               **_linear(f"{prefix}.{name}.to_v", dim, kv_dim, False), **_linear(f"{prefix}.{name}.to_out.0", dim, dim)}
        if qk_norm:
            out.update({f"{prefix}.{name}.norm_q.weight": (head_dim,), f"{prefix}.{name}.norm_k.weight": (head_dim,)})
        if norm_cross:
            out.update(_norm(f"{prefix}.{name}.norm_cross", kv_dim))
        return out

    if self_attn:
        shapes.update(_norm(f"{prefix}.norm1", dim))
        shapes.update(attention("attn1", dim, False))
    if cross_dim is not None:
        shapes.update(_norm(f"{prefix}.norm2", dim))
        shapes.update(attention("attn2", cross_dim, cross_norm))
    if cross_2_dim is not None:
        shapes.update(_norm(f"{prefix}.norm2_2", dim))
        shapes.update(attention("attn2_2", cross_2_dim, False))
    shapes.update(_norm(f"{prefix}.norm3", dim))
    shapes.update(_linear(f"{prefix}.ff.net.0.proj", 4 * dim, dim))
    shapes.update(_linear(f"{prefix}.ff.net.2", dim, 4 * dim))
    if skip:
        shapes.update(_norm(f"{prefix}.skip_norm", dim))
        shapes.update(_linear(f"{prefix}.skip_linear", dim, 2 * dim))
    return shapes


def triposg_vae_rules(c: dict) -> dict:
    """TripoSGVAEModel's state dict for config ``c`` (vae/config.json)."""
    embed = c["in_channels"] * (2 * c["embed_frequency"] + 1)
    we, wd, heads = c["width_encoder"], c["width_decoder"], c["num_attention_heads"]
    shapes = {**_linear("encoder.proj_in", we, embed + c["in_channels"])}
    shapes.update(_triposg_block("encoder.blocks.0", we, heads, self_attn=False, cross_dim=we, cross_norm=True))
    for i in range(c["num_layers_encoder"]):
        shapes.update(_triposg_block(f"encoder.blocks.{i + 1}", we, heads, self_attn=True))
    shapes.update(_norm("encoder.norm_out", we))
    for i in range(c["num_layers_decoder"]):
        shapes.update(_triposg_block(f"decoder.blocks.{i}", wd, heads, self_attn=True))
    shapes.update(_triposg_block(f"decoder.blocks.{c['num_layers_decoder']}", wd, heads, self_attn=False,
                                 cross_dim=wd, cross_norm=True))
    shapes.update({**_linear("decoder.proj_query", wd, embed), **_norm("decoder.norm_out", wd),
                   **_linear("decoder.proj_out", 1, wd), **_linear("quant", 2 * c["latent_channels"], we),
                   **_linear("post_quant", wd, c["latent_channels"])})
    return shapes


def triposg_dit_rules(c: dict) -> dict:
    """TripoSGDiTModel's state dict for config ``c`` (transformer/config.json)."""
    w, heads, layers = c["width"], c["num_attention_heads"], c["num_layers"]
    shapes = {**_linear("time_proj.linear_1", 4 * w, w), **_linear("time_proj.linear_2", w, 4 * w),
              **_linear("proj_in", w, c["in_channels"])}
    for i in range(layers):
        shapes.update(_triposg_block(f"blocks.{i}", w, heads, self_attn=True, cross_dim=c["cross_attention_dim"],
                                     qk_norm=True, skip=i > layers // 2,
                                     cross_2_dim=c.get("cross_attention_2_dim") if c.get("use_cross_attention_2") else None))
    shapes.update({**_norm("norm_out", w), **_linear("proj_out", c["in_channels"], w)})
    return shapes


TINY_TRIPOSG_VAE = {"in_channels": 3, "latent_channels": 4, "num_attention_heads": 2, "width_encoder": 16,
                    "width_decoder": 16, "num_layers_encoder": 1, "num_layers_decoder": 1,
                    "embedding_type": "frequency", "embed_frequency": 4, "embed_include_pi": False}
TINY_TRIPOSG_DIT = {"num_attention_heads": 2, "width": 16, "in_channels": 4, "num_layers": 3,
                    "cross_attention_dim": 32, "use_cross_attention_2": False, "cross_attention_2_dim": None}
TINY_DINO = {"hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2, "mlp_ratio": 2,
             "image_size": 28, "patch_size": 14}


def random_tensors(rules: dict, generator: torch.Generator, scale: float = 0.2) -> dict[str, torch.Tensor]:
    """Random weights for ``rules``: norms near 1, everything else small."""
    tensors = {}
    for name, shape in sorted(rules.items()):
        values = torch.randn(shape, generator=generator) * scale
        if name.endswith("weight") and len(shape) == 1:
            values = values + 1.0
        tensors[name] = values
    return tensors


def make_triposg_folder(root: Path, seed: int = 0, dino: bool = True, shift: float = 1.0,
                        vae_tensors: dict | None = None) -> dict:
    """A TripoSG folder with tiny random weights in its published layout; returns the tensors written."""
    from safetensors.torch import save_file
    from transformers import Dinov2Config, Dinov2Model

    generator = torch.Generator().manual_seed(seed)
    written = {"vae": vae_tensors or random_tensors(triposg_vae_rules(TINY_TRIPOSG_VAE), generator),
               "transformer": random_tensors(triposg_dit_rules(TINY_TRIPOSG_DIT), generator)}
    for part, config, cls in (("vae", TINY_TRIPOSG_VAE, "TripoSGVAEModel"),
                              ("transformer", TINY_TRIPOSG_DIT, "TripoSGDiTModel")):
        (root / part).mkdir(parents=True)
        (root / part / "config.json").write_text(json.dumps({"_class_name": cls, "_diffusers_version": "0.32.2",
                                                             **config}))
        save_file(written[part], str(root / part / "diffusion_pytorch_model.safetensors"))
    (root / "scheduler").mkdir()
    (root / "scheduler" / "scheduler_config.json").write_text(json.dumps(
        {"_class_name": "RectifiedFlowScheduler", "num_train_timesteps": 1000, "shift": shift,
         "use_dynamic_shifting": False}))
    if dino:
        torch.manual_seed(seed)
        Dinov2Model(Dinov2Config(**TINY_DINO)).save_pretrained(root / "image_encoder_dinov2")
        (root / "feature_extractor_dinov2").mkdir()
        (root / "feature_extractor_dinov2" / "preprocessor_config.json").write_text(json.dumps(
            {"image_processor_type": "BitImageProcessor", "do_resize": True, "size": {"shortest_edge": 28},
             "resample": 3, "do_center_crop": True, "crop_size": {"height": 28, "width": 28}, "do_rescale": True,
             "rescale_factor": 1 / 255, "do_normalize": True, "image_mean": [0.485, 0.456, 0.406],
             "image_std": [0.229, 0.224, 0.225], "do_convert_rgb": True}))
    (root / "model_index.json").write_text(json.dumps({"_class_name": "TripoSGPipeline"}))
    return written


# ------------------------------------------------------------------------------ rules: Hunyuan3D-2.1


def hunyuan_dit_rules(p: dict) -> dict:
    """HunYuanDiTPlain's state dict for ``model.params`` ``p`` (2.1 options: layer norms, RMS QK-norm)."""
    h, ctx, depth, heads = p["hidden_size"], p["context_dim"], p["depth"], p["num_heads"]
    bias = p.get("qkv_bias", True)
    shapes = {**_linear("x_embedder", h, p["in_channels"]), **_linear("t_embedder.mlp.0", 4 * h, h),
              **_linear("t_embedder.mlp.2", h, 4 * h)}
    for i in range(depth):
        b = f"blocks.{i}"
        shapes.update({**_norm(f"{b}.norm1", h), **_norm(f"{b}.norm2", h), **_norm(f"{b}.norm3", h)})
        for name, kdim in (("attn1", h), ("attn2", ctx)):
            shapes.update({**_linear(f"{b}.{name}.to_q", h, h, bias), **_linear(f"{b}.{name}.to_k", h, kdim, bias),
                           **_linear(f"{b}.{name}.to_v", h, kdim, bias), **_linear(f"{b}.{name}.out_proj", h, h)})
            if p.get("qk_norm"):
                shapes.update({f"{b}.{name}.q_norm.weight": (h // heads,), f"{b}.{name}.k_norm.weight": (h // heads,)})
        if i > depth // 2:
            shapes.update({**_norm(f"{b}.skip_norm", h), **_linear(f"{b}.skip_linear", h, 2 * h)})
        if depth - i <= p.get("num_moe_layers", 6):
            shapes[f"{b}.moe.gate.weight"] = (p.get("num_experts", 8), h)
            for expert in [f"experts.{e}" for e in range(p.get("num_experts", 8))] + ["shared_experts"]:
                shapes.update({**_linear(f"{b}.moe.{expert}.net.0.proj", 4 * h, h),
                               **_linear(f"{b}.moe.{expert}.net.2", h, 4 * h)})
        else:
            shapes.update({**_linear(f"{b}.mlp.fc1", 4 * h, h), **_linear(f"{b}.mlp.fc2", h, 4 * h)})
    shapes.update({**_norm("final_layer.norm_final", h), **_linear("final_layer.linear", p["in_channels"], h)})
    return shapes


def _hy_attention_block(prefix, width, heads, bias, qk_norm, cross, ratio=4):
    shapes = {**_norm(f"{prefix}.ln_1", width), **_norm(f"{prefix}.ln_2", width)}
    if cross:
        shapes.update({**_linear(f"{prefix}.attn.c_q", width, width, bias),
                       **_linear(f"{prefix}.attn.c_kv", 2 * width, width, bias), **_norm(f"{prefix}.ln_3", width)})
    else:
        shapes.update(_linear(f"{prefix}.attn.c_qkv", 3 * width, width, bias))
    shapes.update(_linear(f"{prefix}.attn.c_proj", width, width))
    if qk_norm:
        shapes.update({**_norm(f"{prefix}.attn.attention.q_norm", width // heads),
                       **_norm(f"{prefix}.attn.attention.k_norm", width // heads)})
    shapes.update({**_linear(f"{prefix}.mlp.c_fc", ratio * width, width),
                   **_linear(f"{prefix}.mlp.c_proj", width, ratio * width)})
    return shapes


def hunyuan_vae_rules(p: dict, encoder: bool = True) -> dict:
    """ShapeVAE's state dict for ``vae.params`` ``p`` (geo_decoder_downsample_ratio 1, ln_post on)."""
    w, heads, bias, qk = p["width"], p["heads"], p.get("qkv_bias", True), p.get("qk_norm", False)
    fourier = 3 * (2 * p.get("num_freqs", 8) + 1)
    shapes = _linear("post_kl", w, p["embed_dim"])
    for i in range(p["num_decoder_layers"]):
        shapes.update(_hy_attention_block(f"transformer.resblocks.{i}", w, heads, bias, qk, cross=False))
    shapes.update(_linear("geo_decoder.query_proj", w, fourier))
    shapes.update(_hy_attention_block("geo_decoder.cross_attn_decoder", w, heads, bias, qk, cross=True,
                                      ratio=p.get("geo_decoder_mlp_expand_ratio", 4)))
    shapes.update({**_norm("geo_decoder.ln_post", w), **_linear("geo_decoder.output_proj", 1, w)})
    if encoder:
        shapes.update(_linear("encoder.input_proj", w, fourier + p.get("point_feats", 3)))
        shapes.update(_hy_attention_block("encoder.cross_attn", w, heads, bias, qk, cross=True))
        for i in range(p.get("num_encoder_layers", 8)):
            shapes.update(_hy_attention_block(f"encoder.self_attn.resblocks.{i}", w, heads, bias, qk, cross=False))
        shapes.update({**_norm("encoder.ln_post", w), **_linear("pre_kl", 2 * p["embed_dim"], w)})
    return shapes


def tiny_hunyuan_config() -> dict:
    """The 2.1 config.yaml's structure and options at toy sizes (DINO: 28 px -> 2x2 patches + CLS = 5 tokens)."""
    return {
        "model": {"target": "hy3dshape.models.denoisers.hunyuandit.HunYuanDiTPlain",
                  "params": {"input_size": 16, "in_channels": 8, "hidden_size": 32, "context_dim": 32, "depth": 3,
                             "num_heads": 4, "qk_norm": True, "text_len": 5, "with_decoupled_ca": False,
                             "use_attention_pooling": False, "qk_norm_type": "rms", "qkv_bias": False,
                             "use_pos_emb": False, "num_moe_layers": 1, "num_experts": 2, "moe_top_k": 1}},
        "vae": {"target": "hy3dshape.models.autoencoders.ShapeVAE",
                "params": {"num_latents": 16, "embed_dim": 8, "num_freqs": 4, "include_pi": False, "heads": 2,
                           "width": 16, "num_encoder_layers": 1, "num_decoder_layers": 1, "qkv_bias": False,
                           "qk_norm": True, "scale_factor": 1.0039506158752403, "geo_decoder_mlp_expand_ratio": 4,
                           "geo_decoder_downsample_ratio": 1, "geo_decoder_ln_post": True, "point_feats": 4,
                           "pc_size": 64, "pc_sharpedge_size": 0}},
        "conditioner": {"target": "hy3dshape.models.conditioner.SingleImageEncoder",
                        "params": {"main_image_encoder": {"type": "DinoImageEncoder", "kwargs": {
                            "config": {"attention_probs_dropout_prob": 0.0, "drop_path_rate": 0.0, "hidden_act": "gelu",
                                       "hidden_dropout_prob": 0.0, "hidden_size": 32, "image_size": 28,
                                       "initializer_range": 0.02, "layer_norm_eps": 1e-6, "layerscale_value": 1.0,
                                       "mlp_ratio": 2, "model_type": "dinov2", "num_attention_heads": 2,
                                       "num_channels": 3, "num_hidden_layers": 1, "patch_size": 14, "qkv_bias": True,
                                       "use_swiglu_ffn": False},
                            "image_size": 28, "use_cls_token": True}}}},
        "scheduler": {"target": "hy3dshape.schedulers.FlowMatchEulerDiscreteScheduler",
                      "params": {"num_train_timesteps": 1000}},
        "image_processor": {"target": "hy3dshape.preprocessors.ImageProcessorV2",
                            "params": {"size": 512, "border_ratio": 0.15}},
        "pipeline": {"target": "hy3dshape.pipelines.Hunyuan3DDiTFlowMatchingPipeline"},
    }


def hunyuan_state(config: dict, seed: int = 0, encoder: bool = True, conditioner: bool = True) -> dict:
    """{'model', 'vae', 'conditioner'} random state dicts as their ckpt holds them."""
    from transformers import Dinov2Config, Dinov2Model

    generator = torch.Generator().manual_seed(seed)
    state = {"model": random_tensors(hunyuan_dit_rules(config["model"]["params"]), generator),
             "vae": random_tensors(hunyuan_vae_rules(config["vae"]["params"], encoder), generator)}
    if conditioner:
        torch.manual_seed(seed)
        kwargs = config["conditioner"]["params"]["main_image_encoder"]["kwargs"]
        dino = Dinov2Model(Dinov2Config(**kwargs["config"]))
        state["conditioner"] = {f"main_image_encoder.model.{k}": v.clone() for k, v in dino.state_dict().items()}
    return state


def make_hunyuan_folder(root: Path, seed: int = 0, fmt: str = "ckpt", parent: bool = True, encoder: bool = True,
                        conditioner: bool = True, state: dict | None = None, config: dict | None = None) -> dict:
    """A Hunyuan3D-2.1 folder (``root/hunyuan3d-dit-v2-1/`` when ``parent``) with tiny random weights."""
    import yaml

    config = config or tiny_hunyuan_config()
    state = state or hunyuan_state(config, seed, encoder, conditioner)
    folder = root / "hunyuan3d-dit-v2-1" if parent else root
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.yaml").write_text(yaml.safe_dump(config))
    if fmt == "ckpt":
        torch.save(state, folder / "model.fp16.ckpt")
    else:
        from safetensors.torch import save_file
        save_file({f"{part}.{k}": v.contiguous() for part, d in state.items() for k, v in d.items()},
                  str(folder / "model.fp16.safetensors"))
    return state


# ------------------------------------------------------------------------------ images


def rgba_disc(size: int = 64, radius: int = 18) -> np.ndarray:
    """An orange disc on a transparent background, like a cut-out product photo."""
    yy, xx = np.mgrid[:size, :size]
    image = np.zeros((size, size, 4), np.uint8)
    image[(yy - size // 2) ** 2 + (xx - size // 2) ** 2 < radius ** 2] = (220, 120, 40, 255)
    return image
