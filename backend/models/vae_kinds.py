"""The two shape VAE architectures Kiln trains, built from a checkpoint's config.

``architecture`` (a key of ``kiln-vae`` checkpoints and of the VAE presets) is ``vecset`` (the
latent-set :class:`~backend.models.shape_vae.ShapeVAE`, the default when the key is absent) or
``triplane`` (:class:`~backend.models.shape_triplane.TriplaneVAE`). Both share one interface:
``encode``, ``decode_tokens``, ``query``, ``forward``.
"""
from __future__ import annotations

from torch import nn

from .shape_triplane import TriplaneConfig, TriplaneVAE
from .shape_vae import ShapeVAE, VAEConfig

ARCHITECTURES = ("vecset", "triplane")


def build_vae(architecture: str, sizes: dict) -> nn.Module:
    """A fresh VAE of ``architecture`` with the sizes in ``sizes`` (a config dict)."""
    if architecture == "vecset":
        return ShapeVAE(VAEConfig.from_dict(sizes))
    if architecture == "triplane":
        return TriplaneVAE(TriplaneConfig.from_dict(sizes))
    raise ValueError(f"unknown VAE architecture {architecture!r}; use one of {', '.join(ARCHITECTURES)}")


def split_preset(preset: dict) -> tuple[str, dict]:
    """(architecture, sizes) of a preset dict such as ``VAE_PRESETS['g']``."""
    sizes = dict(preset)
    return sizes.pop("architecture", "vecset"), sizes
