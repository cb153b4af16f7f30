"""A tiny random-weight Stable Diffusion + depth ControlNet folder, saved in diffusers' layout.

Real diffusers components (UNet2DConditionModel, AutoencoderKL, CLIPTextModel, a CLIPTokenizer
with a vocabulary written here, ControlNetModel, DDIM scheduler), a few thousand parameters
each, so the whole texture-model path (loading from the models folder, denoising, projection,
baking) runs on the CPU in seconds. The images it paints are noise; the code path is the real one.
"""
from __future__ import annotations

import json
import string
from pathlib import Path


def write_tokenizer(folder: Path) -> None:
    """A CLIP BPE vocabulary of lower-case letters (with and without the end-of-word mark)."""
    letters = list(string.ascii_lowercase)
    tokens = ["<|startoftext|>", "<|endoftext|>"] + letters + [c + "</w>" for c in letters]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(tokens)}))
    (folder / "merges.txt").write_text("#version: 0.2\n")


def make_tiny_model(folder: Path, seed: int = 0) -> Path:
    """Save the tiny pipeline to ``folder`` (a models-folder entry); returns ``folder``."""
    import torch
    from diffusers import (AutoencoderKL, ControlNetModel, DDIMScheduler, StableDiffusionControlNetPipeline,
                           UNet2DConditionModel)
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    torch.manual_seed(seed)
    unet = UNet2DConditionModel(sample_size=16, in_channels=4, out_channels=4, layers_per_block=1,
                                block_out_channels=(8, 16), norm_num_groups=4, cross_attention_dim=16,
                                attention_head_dim=2,
                                down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
                                up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"))
    controlnet = ControlNetModel.from_unet(unet, conditioning_embedding_out_channels=(4, 8, 8, 16))
    vae = AutoencoderKL(in_channels=3, out_channels=3, latent_channels=4, block_out_channels=(4, 4, 4, 4),
                        norm_num_groups=2, layers_per_block=1,
                        down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4)
    write_tokenizer(folder / "_vocab")
    tokenizer = CLIPTokenizer(str(folder / "_vocab" / "vocab.json"), str(folder / "_vocab" / "merges.txt"),
                              model_max_length=16)
    text_encoder = CLIPTextModel(CLIPTextConfig(vocab_size=len(tokenizer), hidden_size=16, intermediate_size=32,
                                                num_hidden_layers=1, num_attention_heads=2,
                                                max_position_embeddings=16, bos_token_id=0, eos_token_id=1,
                                                pad_token_id=1))
    scheduler = DDIMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                              clip_sample=False, set_alpha_to_one=False)
    pipe = StableDiffusionControlNetPipeline(vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet,
                                             controlnet=controlnet, scheduler=scheduler, safety_checker=None,
                                             feature_extractor=None, requires_safety_checker=False)
    pipe.save_pretrained(str(folder), safe_serialization=True)
    for stale in (folder / "_vocab").iterdir():
        stale.unlink()
    (folder / "_vocab").rmdir()
    return folder
