"""What every published shape model shares: image -> condition -> latents -> SDF -> mesh (Blender axes).

A family class provides ``encode_image``, ``sample_latents``, ``decoder_tokens`` / ``query_sdf``
(the decoder split so a shape's tokens are computed once) and its publisher's ``DEFAULTS``
(``steps``, ``guidance``, ``bounds``, ``resolution``...). SDF values are negative inside; the
publishers' meshes are Y-up (glTF) and leave here Z-up (Blender).
"""
from __future__ import annotations

import threading

import time

import numpy as np
import torch

from backend.runtime import OpError
from shared.payload import MeshPayload

FACE_BUDGET = 20000


class PublishedShapeModel:
    """Base of :class:`TripoSGModel` and :class:`Hunyuan3DModel` (registry ``ShapeModel``)."""

    family = ""
    DEFAULTS: dict = {}

    def __init__(self, name: str, device: str, dtype: torch.dtype):
        self.name = name
        self.device = device
        self.dtype = dtype
        self._encoder = None
        self._lock = threading.Lock()

    def image_encoder(self):
        """The family's image encoder, built by its ``_load_encoder`` at the first call (thread-safe)."""
        with self._lock:
            if self._encoder is None:
                self._encoder = self._load_encoder()
            return self._encoder

    # ---------------------------------------------------------------- the contract
    @torch.no_grad()
    def decode_sdf(self, latents: torch.Tensor, queries: torch.Tensor) -> torch.Tensor:
        """(B,Q) decoder output made negative-inside, for publisher-space latents and queries."""
        tokens = self.decoder_tokens(latents.to(self.device, self.dtype))
        return self.query_sdf(tokens, queries.to(self.device, self.dtype))

    # ---------------------------------------------------------------- generation
    def settings(self, params: dict | None) -> dict:
        """The publisher's defaults overridden by the request's non-None params."""
        return {**self.DEFAULTS, **{k: v for k, v in (params or {}).items() if v is not None}}

    def generate(self, prompt: str | None, image: np.ndarray | None, params: dict, progress, cancel) -> MeshPayload:
        """An image (uint8 RGB/RGBA) -> a mesh in Blender axes; text is not understood."""
        if image is None:
            raise ValueError(f"{self.name} is image-conditioned: attach an image")
        settings = self.settings(params)
        timings = {}
        start = time.perf_counter()
        progress(0.0, "encode", "encoding the image")
        cond, uncond = self.encode_image(image)
        timings["encode"] = time.perf_counter() - start
        if cancel is not None:
            cancel.check()
        start = time.perf_counter()
        latents = self.sample_latents(cond, uncond, settings,
                                      progress=lambda f, s, m="": progress(0.05 + 0.55 * f, s, m), cancel=cancel)
        timings["sample"] = time.perf_counter() - start
        start = time.perf_counter()
        vertices, faces = self.latents_to_mesh(latents, settings,
                                               progress=lambda f, s, m="": progress(0.6 + 0.4 * f, s, m),
                                               cancel=cancel)
        timings["extract"] = time.perf_counter() - start
        progress(1.0, "done", f"{len(faces)} triangles")
        vertices = np.stack([vertices[:, 0], -vertices[:, 2], vertices[:, 1]], axis=1).astype(np.float32)
        info = {"model": self.name, "family": self.family, "seed": int(settings["seed"]),
                "steps": int(settings["steps"]), "guidance": float(settings["guidance"]),
                "timings": {k: round(v, 3) for k, v in timings.items()}}
        return MeshPayload.from_triangles(vertices, faces, info=info)

    @torch.no_grad()
    def latents_to_mesh(self, latents: torch.Tensor, settings: dict, progress=None,
                        cancel=None) -> tuple[np.ndarray, np.ndarray]:
        """Decoder-space latents (1,K,C) -> cleaned triangles in the publisher's (Y-up) frame."""
        from backend.geometry.extract import extract_mesh, simplify_to_budget
        from backend.models.shape_pipeline import clean_mesh

        tokens = self.decoder_tokens(latents.to(self.device, self.dtype))

        def sdf(points: np.ndarray) -> np.ndarray:
            query = torch.from_numpy(points).to(self.device, self.dtype)[None]
            return self.query_sdf(tokens, query)[0].float().cpu().numpy()

        vertices, faces = extract_mesh(sdf, float(settings["bounds"]), int(settings["resolution"]),
                                       level=float(settings.get("level", 0.0)),
                                       batch_size=int(settings.get("query_chunk", 32768)),
                                       progress=(lambda f, s, m="": progress(0.9 * f, s, m)) if progress else None,
                                       cancel=cancel)
        if len(faces) == 0:
            raise OpError(f"{self.name} produced an empty shape; try another seed or image")
        vertices, faces = clean_mesh(vertices, faces)
        budget = settings.get("face_budget", FACE_BUDGET)
        if budget and len(faces) > int(budget):
            if progress:
                progress(0.95, "simplify", f"{len(faces)} -> {budget} faces")
            vertices, faces = simplify_to_budget(vertices, faces, int(budget))
        return vertices, faces
