"""Mesh -> VAE latents -> mesh: a watertight remesher, and the honest test of the VAE.

The input is normalised the way the VAE was trained (bbox centred, longest side spanning
[-0.9, 0.9], z up), sampled into surface points + normals, encoded to the posterior mean,
decoded by hierarchical extraction and mapped back to the input's frame.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .checkpoint import CheckpointError, checkpoint_paths, load_into, read_config, read_tensors
from .shape_vae import ShapeVAE
from .vae_kinds import build_vae

TRAINING_HALF_EXTENT = 0.9   # backend.procedural.sample.HALF_EXTENT: what kiln VAEs saw


@dataclass
class Autoencoder:
    """A VAE with the frame it expects."""

    vae: torch.nn.Module          # ShapeVAE or TriplaneVAE (backend.models.vae_kinds)
    up_axis: str = "z"
    half_extent: float = TRAINING_HALF_EXTENT
    device: str = "cpu"
    level: float = 0.0          # iso-level of the decoded SDF (kiln-shape models store a calibrated one)

    @classmethod
    def load(cls, model: str, models_dir: Path | None = None, device: str = "cpu") -> "Autoencoder":
        """From a checkpoint stem (``train vae`` run or kiln-shape model), a registered model name, or
        the name of an embedded VAE-only model (``backend/weights/NAME``, e.g. kiln-shape-g)."""
        model = str(vae_only_stem(model) or model)
        weights, config_path = checkpoint_paths(model)
        if config_path.is_file() and weights.is_file():
            config = read_config(model)
            if config.get("format") not in ("kiln-vae", "kiln-shape"):
                raise CheckpointError(f"{config_path} is not a VAE or kiln-shape checkpoint")
            vae = build_vae(config.get("architecture", "vecset"), config["vae"])
            load_into(vae, read_tensors(weights), "vae")
            level = float(config.get("sampler", {}).get("level", 0.0))
            return cls(vae.eval().to(device), config.get("up_axis", "z"), device=device, level=level)
        from .registry import ModelRegistry
        registry = ModelRegistry(models_dir, device)
        registry.discover()
        try:
            pipeline = registry.get(model)
        except KeyError as exc:
            raise CheckpointError(f"{model!r} is neither a checkpoint (stem of .safetensors + .json) nor a "
                                  f"model: {exc.args[0]}") from None
        if not isinstance(getattr(pipeline, "vae", None), ShapeVAE):
            raise CheckpointError(f"model {model!r} has no point-cloud VAE Kiln can encode with")
        return cls(pipeline.vae, pipeline.config.get("up_axis", "z"),
                   1.0 if pipeline.config.get("format") == "triposg" else TRAINING_HALF_EXTENT, device,
                   float(pipeline.config.get("sampler", {}).get("level", 0.0)))

    def reconstruct(self, vertices: np.ndarray, faces: np.ndarray, resolution: int = 128,
                    num_tokens: int | None = None, num_points: int = 8192, face_budget: int | None = None,
                    progress=None, cancel=None) -> tuple[np.ndarray, np.ndarray]:
        """Encode a triangle mesh (Blender axes) and decode it again, in the input's frame."""
        from backend.geometry.extract import extract_mesh, simplify_to_budget
        from backend.train.shape_metrics import sample_with_normals

        from .shape_pipeline import clean_mesh

        vertices = np.asarray(vertices, dtype=np.float64)
        if len(faces) == 0 or len(vertices) == 0:
            raise ValueError("the input mesh is empty")
        lo, hi = vertices.min(0), vertices.max(0)
        extent = float((hi - lo).max())
        if not extent > 0:
            raise ValueError("the input mesh has zero extent")
        centre, scale = (lo + hi) / 2, 2 * self.half_extent / extent
        normalised = self._to_model_axes((vertices - centre) * scale)
        points, normals = sample_with_normals(normalised, faces, num_points, seed=0)
        to_tensor = lambda a: torch.from_numpy(a.astype(np.float32))[None].to(self.device)  # noqa: E731
        with torch.no_grad():
            mean, _ = self.vae.encode(to_tensor(points), to_tensor(normals), num_tokens)
            tokens = self.vae.decode_tokens(mean)

            def sdf(query: np.ndarray) -> np.ndarray:
                return self.vae.query(tokens, torch.from_numpy(query)[None].to(self.device))[0].cpu().numpy()

            out_v, out_f = extract_mesh(sdf, 1.0, resolution, level=self.level, batch_size=32768,
                                        progress=progress, cancel=cancel)
        if len(out_f) == 0:
            raise ValueError("the VAE decoded an empty surface for this mesh")
        out_v, out_f = clean_mesh(out_v, out_f)
        if face_budget:
            out_v, out_f = simplify_to_budget(out_v, out_f, face_budget)
        return (self._from_model_axes(out_v) / scale + centre).astype(np.float32), out_f

    def _to_model_axes(self, v: np.ndarray) -> np.ndarray:
        return np.stack([v[:, 0], v[:, 2], -v[:, 1]], axis=1) if self.up_axis == "y" else v

    def _from_model_axes(self, v: np.ndarray) -> np.ndarray:
        return np.stack([v[:, 0], -v[:, 2], v[:, 1]], axis=1) if self.up_axis == "y" else v


def vae_only_stem(model: str) -> Path | None:
    """The checkpoint stem when ``model`` names a VAE without a generator (a ``train vae`` run stem
    or an embedded VAE-only model such as kiln-shape-g), else None."""
    from .registry import WEIGHTS_DIR

    for stem in (Path(model), WEIGHTS_DIR / model):
        weights, config = checkpoint_paths(stem)
        if weights.is_file() and config.is_file():
            return stem if read_config(stem).get("format") == "kiln-vae" else None
    return None


def triangles_of(mesh) -> tuple[np.ndarray, np.ndarray]:
    """(vertices, triangles) of a MeshPayload, fan-triangulating its polygons."""
    sizes = np.asarray(mesh.face_sizes, dtype=np.int64)
    if np.any(sizes < 3):
        raise ValueError("the mesh has faces with fewer than 3 corners")
    offsets = mesh.face_offsets()[:-1]
    indices = np.asarray(mesh.face_indices, dtype=np.int64)
    tris = [np.stack([indices[offsets[sizes >= k]], indices[offsets[sizes >= k] + k - 2],
                      indices[offsets[sizes >= k] + k - 1]], axis=1) for k in range(3, int(sizes.max()) + 1)]
    return np.asarray(mesh.positions, dtype=np.float64), np.concatenate(tris)
