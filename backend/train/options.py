"""Model presets and training hyper-parameters (torch-free, so the CLI can list them quickly)."""
from __future__ import annotations

from dataclasses import dataclass

VAE_PRESETS = {
    # the embedded kiln-shape-s VAE: sized to train in under an hour on a shared 2-core CPU
    "s": dict(latent_channels=8, num_attention_heads=4, width_encoder=64, width_decoder=64,
              num_layers_encoder=1, num_layers_decoder=2, embed_frequency=6, num_tokens=64),
    # kiln-shape-m: the s network read with twice the latent tokens (128 x 8). Tokens are chosen at
    # encode time, so m starts from kiln-shape-s's weights (`--init`) and fine-tunes: on the shared
    # CPU a wider network (width 96-128, 16 channels) ran 2-3x slower per step and could not be
    # trained from scratch in the time there was (docs/training.md, kiln-shape-m).
    "m": dict(latent_channels=8, num_attention_heads=4, width_encoder=64, width_decoder=64,
              num_layers_encoder=1, num_layers_decoder=2, embed_frequency=6, num_tokens=128),
    # kiln-shape-g: a LOCAL latent (triplane, Convolutional Occupancy Networks style): 3 x 16^2 cells
    # of 8 channels, decoded to 3 x 32^2 planes of 32 features read bilinearly by a small MLP
    # (backend/models/shape_triplane.py; chosen by the experiment in docs/training.md, kiln-shape-g)
    "g": dict(architecture="triplane", latent_channels=8, latent_resolution=16, plane_resolution=32,
              point_width=32, conv_width=64, plane_channels=32, mlp_width=128),
    # the experiment's other triplane: 64^2 planes, half the convolution width (lost chair legs in 10 minutes)
    "g-fine": dict(architecture="triplane", latent_channels=8, latent_resolution=16, plane_resolution=64,
                   point_width=32, conv_width=32, plane_channels=32, mlp_width=128),
    # the vecset network wider (the other side of that experiment): width 128, 16 channels, 128 tokens
    "m-wide": dict(latent_channels=16, num_attention_heads=4, width_encoder=128, width_decoder=128,
                   num_layers_encoder=1, num_layers_decoder=2, embed_frequency=8, num_tokens=128),
    # for tests
    "g-tiny": dict(architecture="triplane", latent_channels=4, latent_resolution=4, plane_resolution=8,
                   point_width=8, conv_width=16, plane_channels=8, mlp_width=16),
    "tiny": dict(latent_channels=4, num_attention_heads=2, width_encoder=16, width_decoder=16,
                 num_layers_encoder=1, num_layers_decoder=1, embed_frequency=4, num_tokens=16),
    # TripoSG's released size (VAEConfig defaults)
    "triposg": dict(),
}

FLOW_PRESETS = {
    "s": dict(num_attention_heads=4, width=96, in_channels=8, num_layers=5, cross_attention_dim=384,
              use_cross_attention_2=True, cross_attention_2_dim=1280),
    # the s transformer, fine-tuned on kiln-shape-m's 128 latent tokens (no positional embedding: any count)
    "m": dict(num_attention_heads=4, width=96, in_channels=8, num_layers=5, cross_attention_dim=384,
              use_cross_attention_2=True, cross_attention_2_dim=1280),
    "tiny": dict(num_attention_heads=2, width=16, in_channels=4, num_layers=3, cross_attention_dim=384,
                 use_cross_attention_2=True, cross_attention_2_dim=1280),
    # TripoSG's released size (FlowConfig defaults: image-only, DINOv2 1024-d tokens)
    "triposg": dict(),
}

TEXT_TOKENS = 20      # MiniLM token states per caption
IMAGE_GRID = 2        # EfficientNet head features pooled to IMAGE_GRID x IMAGE_GRID tokens


@dataclass
class VAETrainConfig:
    """Hyper-parameters of a VAE run (recorded in the checkpoint JSON)."""

    steps: int = 6000
    batch_size: int = 8
    lr: float = 8e-4
    warmup: int = 100
    kl_weight: float = 1e-3
    far_weight: float = 0.5
    sign_weight: float = 0.0     # weight of a BCE term on the sign (inside/outside) of every query
    sign_temperature: float = 0.01
    num_points: int = 1024
    num_near: int = 512
    num_far: int = 256
    num_surface: int = 128
    held_out: float = 0.05
    eval_every: int = 200
    log_every: int = 20
    checkpoint_minutes: float = 3.0
    seed: int = 0
    minutes: float = 0.0         # > 0: a wall-clock budget; the cosine schedule runs over it, not over `steps`


@dataclass
class FlowTrainConfig:
    """Hyper-parameters of a flow run (recorded in the checkpoint JSON)."""

    steps: int = 5000
    batch_size: int = 16
    lr: float = 5e-4
    warmup: int = 100
    views: int = 2
    held_out: float = 0.05
    eval_every: int = 200
    log_every: int = 20
    checkpoint_minutes: float = 3.0
    seed: int = 0
