"""Prompt and/or image -> mesh with the latent VAE + flow transformer: encode, sample, extract, simplify.

One class serves the kiln-shape models (one ``.safetensors`` with ``vae.*`` and ``transformer.*``
tensors + one JSON config). Publishers' folders (TripoSG, Hunyuan3D-2.1) have their own loaders
in ``backend.models.published``.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch

from backend.runtime import OpError
from shared.payload import MeshPayload

from .checkpoint import CheckpointError, checkpoint_paths, load_into, read_config, read_tensors
from .conditioning import Conditioner
from .shape_flow import FlowConfig, ShapeFlowTransformer, sample_latents
from .shape_vae import ShapeVAE, VAEConfig

KILN_FORMAT = "kiln-shape"
DEFAULTS = {"steps": 25, "guidance": 4.0, "seed": 0, "resolution": 128, "face_budget": 20000}


class ShapePipeline:
    """A loaded shape generator (registry ``ShapeModel``)."""

    def __init__(self, vae: ShapeVAE, transformer: ShapeFlowTransformer, conditioner: Conditioner,
                 config: dict, device: str = "cpu"):
        self.vae = vae.eval().to(device)
        self.transformer = transformer.eval().to(device)
        self.conditioner = conditioner
        self.config = config
        self.device = device

    # ---------------------------------------------------------------------------------- loading
    @classmethod
    def from_checkpoint(cls, stem: str | Path, device: str = "cpu") -> "ShapePipeline":
        """Load a kiln-shape checkpoint (``stem.safetensors`` + ``stem.json``)."""
        weights, _ = checkpoint_paths(stem)
        config = read_config(stem)
        if config.get("format") != KILN_FORMAT:
            raise CheckpointError(f"{stem}: config format is {config.get('format')!r}, expected {KILN_FORMAT!r}")
        tensors = read_tensors(weights)
        vae = ShapeVAE(VAEConfig.from_dict(config["vae"]))
        transformer = ShapeFlowTransformer(FlowConfig.from_dict(config["transformer"]))
        load_into(vae, tensors, "vae")
        load_into(transformer, tensors, "transformer")
        conditioner = Conditioner(config["conditioning"], device, root=Path(stem).parent)
        return cls(vae, transformer, conditioner, config, device)

    # ------------------------------------------------------------------------------- generation
    @property
    def num_tokens(self) -> int:
        return int(self.config.get("num_tokens", self.vae.config.num_tokens))

    def generate(self, prompt: str | None, image: np.ndarray | None, params: dict, progress, cancel) -> MeshPayload:
        """Sample a shape for ``prompt`` and/or ``image`` and return it as a mesh (Blender axes, Z up)."""
        params = {**DEFAULTS, **{k: v for k, v in (params or {}).items() if v is not None}}
        timings = {}
        start = time.perf_counter()
        progress(0.0, "encode", "encoding the condition")
        cond, uncond = self.conditioner.encode(prompt, image)
        timings["encode"] = time.perf_counter() - start

        start = time.perf_counter()
        sampler = self.config.get("sampler", {})
        latents = sample_latents(self.transformer, cond, uncond, num_tokens=self.num_tokens,
                                 steps=int(params["steps"]), guidance=float(params["guidance"]),
                                 seed=int(params["seed"]), shift=float(sampler.get("shift", 1.0)),
                                 progress=lambda f, s, m="": progress(0.05 + 0.55 * f, s, m), cancel=cancel)
        latents = self.denormalise(latents)
        timings["sample"] = time.perf_counter() - start

        extraction = {}
        vertices, faces, more = self.latents_to_mesh(
            latents, int(params["resolution"]), int(params["face_budget"]) if params["face_budget"] else None,
            progress=lambda f, s, m="": progress(0.6 + 0.4 * f, s, m), cancel=cancel, report=extraction)
        timings.update(more)
        vertices = self.to_blender_axes(vertices)
        progress(1.0, "done", f"{len(faces)} triangles")
        info = {"model": self.config.get("name", "shape"), "seed": int(params["seed"]),
                "timings": {k: round(v, 3) for k, v in timings.items()}, "extraction": extraction}
        return MeshPayload.from_triangles(vertices, faces, info=info)

    def denormalise(self, latents: torch.Tensor) -> torch.Tensor:
        """Sampler space -> VAE latent space (per-channel statistics stored with kiln models)."""
        if "latent_scale" not in self.config:
            return latents
        scale = torch.tensor(self.config["latent_scale"], dtype=latents.dtype, device=latents.device)
        shift = torch.tensor(self.config["latent_shift"], dtype=latents.dtype, device=latents.device)
        return latents * scale + shift

    @torch.no_grad()
    def latents_to_mesh(self, latents: torch.Tensor, resolution: int, face_budget: int | None,
                        progress=None, cancel=None, report: dict | None = None) -> tuple[np.ndarray, np.ndarray, dict]:
        """Decode latents (1,K,C) to a cleaned triangle mesh in model axes, plus stage timings.

        Extraction refines up to ``resolution`` but stops at the first level whose surface has
        ``face_budget`` triangles (decimation then has 1-4x the budget to choose from). Loose
        pieces the field nearly joined to the body (``valley_bridges``: a broken leg) are joined
        by struts one cell thick and the surface extracted again at the same grid; then floating
        islands and specks are dropped (``clean_mesh``). ``report`` receives the grid reached, the
        decoder queries, the bridges, what the clean-up dropped and the largest piece's area share
        as extracted (``largest_piece_share_before``) and in the result."""
        from backend.geometry.extract import GridMemo, extract_mesh, simplify_to_budget
        from backend.geometry.floaters import largest_piece_share, valley_bridges, with_struts

        timings = {}
        start = time.perf_counter()
        tokens = self.vae.decode_tokens(latents.to(self.device))

        def sdf(points: np.ndarray) -> np.ndarray:
            query = torch.from_numpy(points).to(self.device, tokens.dtype)[None]
            return self.vae.query(tokens, query)[0].float().cpu().numpy()

        sampler = self.config.get("sampler", {})
        extract_progress = (lambda f, s, m="": progress(0.9 * f, s, m)) if progress else None
        report = {} if report is None else report
        bounds, level = float(sampler.get("bounds", 1.0)), float(sampler.get("level", 0.0))
        memo = GridMemo(sdf, bounds, resolution)   # a second pass with struts re-uses these values
        vertices, faces = extract_mesh(memo, bounds, resolution, level=level, batch_size=65536,
                                       stop_faces=face_budget or None, stats=report,
                                       progress=extract_progress, cancel=cancel)
        if len(faces) == 0:
            raise OpError("the model produced an empty shape; try another seed or a higher guidance")
        extracted_share = largest_piece_share(vertices, faces)
        cell = 2.0 * bounds / report["resolution"]
        bridges = valley_bridges(vertices, faces, lambda p: sdf(p) - level, cell)
        report["bridges"] = len(bridges)
        if bridges:
            if progress:
                progress(0.9, "extract", f"joining {len(bridges)} loose part(s) to the body")
            vertices, faces = extract_mesh(with_struts(memo, bridges, cell), bounds, report["resolution"],
                                           level=level, batch_size=65536, stats=report, cancel=cancel,
                                           progress=(lambda f, s, m="": progress(0.9 + 0.04 * f, s, m)) if progress
                                           else None)
        report["queries"] = memo.queries   # decoder queries of both passes
        vertices, faces = clean_mesh(vertices, faces, report)
        report["largest_piece_share_before"] = round(extracted_share, 5)
        timings["extract"] = time.perf_counter() - start
        start = time.perf_counter()
        if face_budget and len(faces) > face_budget:
            if progress:
                progress(0.95, "simplify", f"{len(faces)} -> {face_budget} faces")
            vertices, faces = simplify_to_budget(vertices, faces, face_budget)
        timings["simplify"] = time.perf_counter() - start
        return vertices, faces, timings

    def to_blender_axes(self, vertices: np.ndarray) -> np.ndarray:
        """Model axes -> Blender's Z-up (TripoSG works Y-up like glTF)."""
        if self.config.get("up_axis", "z") == "y":
            return np.stack([vertices[:, 0], -vertices[:, 2], vertices[:, 1]], axis=1).astype(np.float32)
        return vertices.astype(np.float32)


def clean_mesh(vertices: np.ndarray, faces: np.ndarray, report: dict | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Drop floating islands and specks (``backend/geometry/floaters.py``: small pieces far from the
    body; parts near it stay) and orient faces outward. ``report`` receives what was dropped."""
    from backend.geometry.floaters import drop_floaters

    vertices, faces, found = drop_floaters(np.asarray(vertices, dtype=np.float32), faces)
    if report is not None:
        report.update(found)
    v = vertices.astype(np.float64)
    volume = np.einsum("ij,ij->i", v[faces[:, 0]], np.cross(v[faces[:, 1]], v[faces[:, 2]])).sum() / 6.0
    if volume < 0:
        faces = faces[:, ::-1]
    return vertices.astype(np.float32), np.ascontiguousarray(faces, dtype=np.int64)

