"""Registry provider for the artist mesh transformer (capability ``retopo-artist``).

The embedded ``kiln-artist-s`` in ``backend/weights/`` and any ``*.json`` + ``*.safetensors`` pair
with ``"format": "kiln-artist"`` in the user's models folder.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path

from .artist_mesh import FORMAT, ArtistConfig, ArtistMeshModel
from .artist_pipeline import ArtistRetopo
from .checkpoint import checkpoint_paths, load_into, read_config, read_tensors
from .registry import ModelEntry

log = logging.getLogger(__name__)
CAPABILITY = "retopo-artist"
WEIGHTS_DIR = Path(__file__).resolve().parents[1] / "weights"
EMBEDDED_NAME = "kiln-artist-s"


def load_artist(stem: Path, device: str = "cpu") -> ArtistRetopo:
    """The artist model of checkpoint ``stem`` (strict: every tensor must match the config)."""
    config = read_config(stem)
    if config.get("format") != FORMAT:
        raise ValueError(f"{stem}: not a {FORMAT} checkpoint")
    model = ArtistMeshModel(ArtistConfig.from_json(config))
    load_into(model, read_tensors(checkpoint_paths(stem)[0]))
    return ArtistRetopo(model.to(device), Path(stem).name)


def _is_artist(stem: Path) -> bool:
    weights, config = checkpoint_paths(stem)
    if not (weights.is_file() and config.is_file()):
        return False
    try:
        return json.loads(config.read_text()).get("format") == FORMAT
    except (OSError, json.JSONDecodeError) as exc:
        log.warning("ignoring %s: %s", config, exc)
        return False


def _entry(stem: Path, name: str, priority: int) -> ModelEntry:
    config = json.loads(checkpoint_paths(stem)[1].read_text())
    return ModelEntry(
        name=name, capability=CAPABILITY,
        description=f"Artist-mesh transformer: quad-dominant low-poly meshes up to {config.get('max_faces')} faces",
        license=config.get("license", "GPL-3.0-or-later"), conditioning=("mesh",),
        load=lambda device: load_artist(stem, device), weights=checkpoint_paths(stem)[0], priority=priority,
        extra={"max_faces": config.get("max_faces")})


def model_entries(models_dir: Path | None) -> list[ModelEntry]:
    """The embedded artist model, then the user's."""
    entries = []
    if _is_artist(WEIGHTS_DIR / EMBEDDED_NAME):
        entries.append(_entry(WEIGHTS_DIR / EMBEDDED_NAME, EMBEDDED_NAME, 0))
    if models_dir is not None and Path(models_dir).is_dir():
        for path in sorted(Path(models_dir).glob("*.json")):
            if _is_artist(path.with_suffix("")):
                entries.append(_entry(path.with_suffix(""), path.stem, 10))
    return entries
