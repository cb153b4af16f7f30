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

from backend.geometry.extract import GridMemo

from .checkpoint import CheckpointError, checkpoint_paths, load_into, read_config, read_tensors
from .conditioning import Conditioner
from .shape_candidates import CONNECTED_SHARE, LEVEL_OFFSETS, most_connected, pieces_warning, selection_report
from .shape_flow import FlowConfig, ShapeFlowTransformer, sample_latents
from .shape_vae import ShapeVAE, VAEConfig

KILN_FORMAT = "kiln-shape"
STOP_SHARE = 0.75      # of the face budget: extraction stops refining at a level with that many triangles
DEFAULTS = {"steps": 25, "guidance": 4.0, "seed": 0, "resolution": 128, "face_budget": 20000, "candidates": 4}


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
        """Sample a shape for ``prompt`` and/or ``image`` and return it as a mesh (Blender axes, Z up).

        Up to ``params["candidates"]`` noise seeds are tried and the first shape in one piece kept
        (``shape_candidates.py``); ``info`` says which and warns when the result is still in pieces."""
        params = {**DEFAULTS, **{k: v for k, v in (params or {}).items() if v is not None}}
        timings = {}
        start = time.perf_counter()
        progress(0.0, "encode", "encoding the condition")
        cond, uncond = self.conditioner.encode(prompt, image)
        timings["encode"] = time.perf_counter() - start

        start = time.perf_counter()
        sampler = self.config.get("sampler", {})
        bounds, level = float(sampler.get("bounds", 1.0)), float(sampler.get("level", 0.0))
        resolution, count = int(params["resolution"]), int(params["candidates"])

        sampling = []

        def sample(seeds: list[int], first: int) -> list:
            begin = time.perf_counter()
            latents = sample_latents(self.transformer, cond, uncond, num_tokens=self.num_tokens,
                                     steps=int(params["steps"]), guidance=float(params["guidance"]), seed=seeds,
                                     shift=float(sampler.get("shift", 1.0)), cancel=cancel,
                                     progress=lambda f, s, m="": progress(
                                         0.05 + 0.55 * (first + f * len(seeds)) / count, s,
                                         f"candidate {first + 1}" + (f"-{first + len(seeds)}" if len(seeds) > 1 else "")
                                         + f" of up to {count}: {m}"))
            latents = self.denormalise(latents)
            sampling.append(time.perf_counter() - begin)
            shapes = [latents[i:i + 1] for i in range(len(seeds))]
            memos = [self.field(one, bounds, resolution) for one in shapes]
            return [((one, memo), memo) for one, memo in zip(shapes, memos)]

        kept, tried = most_connected(sample, int(params["seed"]), count, bounds, level, cancel)
        latents, memo = kept.shape
        timings["sample"] = sum(sampling)
        timings["select"] = time.perf_counter() - start - sum(sampling)   # the coarse decodes

        vertices, faces, extraction, more = self.finish(latents, memo, kept, resolution, params, progress, cancel)
        timings.update(more)
        vertices = self.to_blender_axes(vertices)
        progress(1.0, "done", f"{len(faces)} triangles")
        info = {"model": self.config.get("name", "shape"), "seed": int(params["seed"]),
                "timings": {k: round(v, 3) for k, v in timings.items()}, "extraction": extraction,
                "candidates": selection_report(kept, tried)}
        warning = pieces_warning(info["model"], extraction, tried)
        if warning:
            info["warning"] = warning
        return MeshPayload.from_triangles(vertices, faces, info=info)

    def finish(self, latents, memo, kept, resolution: int, params: dict, progress, cancel):
        """The kept candidate's final extraction at its iso-level offset; when the final grid splits
        what the coarse one judged whole, once more at the next offset of ``LEVEL_OFFSETS``, kept
        only if that makes one piece (``extraction["level_retry"]`` says what happened)."""
        budget, offset = (int(params["face_budget"]) if params["face_budget"] else None), kept.offset
        extraction = {}
        vertices, faces, timings = self.latents_to_mesh(
            latents, resolution, budget, progress=lambda f, s, m="": progress(0.6 + 0.35 * f, s, m), cancel=cancel,
            report=extraction, field=memo, level_offset=offset)
        higher = [o for o in LEVEL_OFFSETS if o > offset]
        if extraction["largest_piece_share"] >= CONNECTED_SHARE or not higher or kept.share < CONNECTED_SHARE:
            return vertices, faces, extraction, timings
        retry = {}
        more_vertices, more_faces, more = self.latents_to_mesh(
            latents, resolution, budget, progress=lambda f, s, m="": progress(0.95 + 0.05 * f, s, m), cancel=cancel,
            report=retry, field=memo, level_offset=higher[0])
        timings = {k: timings[k] + more.get(k, 0.0) for k in timings}
        joined = retry["largest_piece_share"] >= CONNECTED_SHARE
        note = {"offset": higher[0], "largest_piece_share": retry["largest_piece_share"], "kept": joined}
        if joined:
            return more_vertices, more_faces, {**retry, "level_retry": note}, timings
        return vertices, faces, {**extraction, "level_retry": note}, timings

    def denormalise(self, latents: torch.Tensor) -> torch.Tensor:
        """Sampler space -> VAE latent space (per-channel statistics stored with kiln models)."""
        if "latent_scale" not in self.config:
            return latents
        scale = torch.tensor(self.config["latent_scale"], dtype=latents.dtype, device=latents.device)
        shift = torch.tensor(self.config["latent_shift"], dtype=latents.dtype, device=latents.device)
        return latents * scale + shift

    @torch.no_grad()
    def field(self, latents: torch.Tensor, bounds: float, resolution: int) -> GridMemo:
        """The signed distance field of latents (1,K,C), remembering its values on the extraction grid."""
        tokens = self.vae.decode_tokens(latents.to(self.device))

        def sdf(points: np.ndarray) -> np.ndarray:
            with torch.no_grad():
                query = torch.from_numpy(points).to(self.device, tokens.dtype)[None]
                return self.vae.query(tokens, query)[0].float().cpu().numpy()
        return GridMemo(sdf, bounds, resolution)

    @torch.no_grad()
    def latents_to_mesh(self, latents: torch.Tensor, resolution: int, face_budget: int | None,
                        progress=None, cancel=None, report: dict | None = None,
                        field: GridMemo | None = None, level_offset: float = 0.0) -> tuple[np.ndarray, np.ndarray, dict]:
        """Decode latents (1,K,C) to a cleaned triangle mesh in model axes, plus stage timings.

        Extraction refines up to ``resolution`` but stops at the first level whose surface has
        ``STOP_SHARE`` of the ``face_budget`` triangles: the next level would have ~4x as many, 3-4x
        the budget, nearly all decimated away again (a door: 17.5k triangles at 128^3 or 380k
        decoder queries more for 70k at 256^3); 3/4 to 1x the budget is kept as extracted.
        Loose pieces the field nearly joined to the body (``valley_bridges``: a broken leg) are
        joined by struts one cell thick and the surface extracted again at the same grid; then
        floating islands and specks are dropped (``clean_mesh``). ``field``: the latents'
        :meth:`field` when the caller has it already (its remembered values are re-used).
        ``level_offset``: added to the model's iso-level (the candidate search's, ``shape_candidates.py``).
        ``report`` receives the grid reached, the decoder queries, the bridges, what the clean-up
        dropped and the largest piece's area share as extracted (``largest_piece_share_before``)
        and in the result."""
        from backend.geometry.extract import extract_mesh, simplify_to_budget
        from backend.geometry.floaters import largest_piece_share, valley_bridges, with_struts

        timings = {}
        start = time.perf_counter()
        sampler = self.config.get("sampler", {})
        extract_progress = (lambda f, s, m="": progress(0.9 * f, s, m)) if progress else None
        report = {} if report is None else report
        bounds, level = float(sampler.get("bounds", 1.0)), float(sampler.get("level", 0.0)) + level_offset
        report["level_offset"] = level_offset
        memo = field if field is not None else self.field(latents, bounds, resolution)   # struts re-use it
        vertices, faces = extract_mesh(memo, bounds, resolution, level=level, batch_size=65536,
                                       stop_faces=STOP_SHARE * face_budget if face_budget else None, stats=report,
                                       progress=extract_progress, cancel=cancel)
        if len(faces) == 0:
            raise OpError("the model produced an empty shape; try another seed or a higher guidance")
        extracted_share = largest_piece_share(vertices, faces)
        cell = 2.0 * bounds / report["resolution"]
        bridges = valley_bridges(vertices, faces, lambda p: memo(p) - level, cell)
        report["bridges"] = len(bridges)
        if bridges:
            if progress:
                progress(0.9, "extract", f"joining {len(bridges)} loose part(s) to the body")
            vertices, faces = extract_mesh(with_struts(memo, bridges, cell), bounds, report["resolution"],
                                           level=level, batch_size=65536, stats=report, cancel=cancel,
                                           progress=(lambda f, s, m="": progress(0.9 + 0.04 * f, s, m)) if progress
                                           else None)
        report["queries"] = memo.queries   # decoder queries of the field: coarse check and both passes
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

