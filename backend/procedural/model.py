"""The ``procedural`` shape model: prompt -> nearest category + attributes -> seeded artist mesh.

Registered with the model registry (``model_entries``). Loading embeds the category descriptions
and attribute phrases with MiniLM once; each ``generate`` call then embeds the prompt and builds a
low-poly, part-labelled, per-part-material mesh in well under a second on CPU.
"""
from __future__ import annotations

from pathlib import Path

from backend.models.registry import WEIGHTS_DIR, ModelEntry
from shared.payload import MeshPayload

from .captions import captions
from .prompt import PromptMatcher
from .registry import categories, generate

NAME = "procedural"


class ProceduralModel:
    """A loaded procedural generator (holds the prompt matcher's embeddings)."""

    def __init__(self, device: str = "cpu"):
        self.device = device
        self.matcher = PromptMatcher(device=device)

    def generate(self, prompt: str | None, image, params: dict, progress, cancel) -> MeshPayload:
        """Build the asset the prompt describes. ``params['seed']`` picks the variation; ``image``
        is not used (this model is text-only; the op refuses image-only requests)."""
        if not prompt or not prompt.strip():
            raise ValueError("the procedural model needs a text prompt, e.g. 'a wooden chair'")
        progress(0.1, "match", "matching the prompt to a category")
        match = self.matcher.match(prompt)
        cancel.check()
        seed = int(params.get("seed", 0))
        progress(0.5, "build", f"building a {match.category} (confidence {match.confidence:.2f})")
        asset = generate(match.category, seed, match.hints)
        cancel.check()
        mesh = asset.artist_mesh()
        mesh.info = {"model": NAME, "category": match.category, "confidence": round(match.confidence, 4),
                     "similarity": round(match.similarity, 4), "attributes": match.attributes(),
                     "alternatives": [[n, round(p, 4)] for n, p in match.alternatives], "seed": seed,
                     "caption": captions(asset, seed)[-1], "options": asset.options}
        if params.get("texture"):
            mesh.info["texture"] = "per-part PBR materials only; run the texture op to paint images"
        progress(1.0, "done", f"{mesh.num_faces} faces, {len(mesh.part_names)} parts")
        return mesh


def model_entries(models_dir: Path | None) -> list[ModelEntry]:
    """The built-in procedural model (no weights; always available)."""
    return [ModelEntry(
        name=NAME, capability="shape",
        description=f"Instant procedural props: {len(categories())} categories, low-poly, parts and materials",
        license="GPL-3.0-or-later (Kiln's own generator; no third-party weights)",
        conditioning=("text",), load=lambda device: ProceduralModel(device), priority=10,
        extra={"categories": list(categories())}, card=WEIGHTS_DIR / f"{NAME}.md")]
