"""The model registry: names -> capability, config, weights, license, card; lazy load, LRU unload.

Providers add entries: each module in ``PROVIDERS`` defines ``model_entries(models_dir) -> list[ModelEntry]``
(built-in embedded models, and whatever it recognises in the user's models folder). A provider
that is not installed yet is skipped. The server and the CLI call :func:`configure` once at start;
ops call :func:`get_registry`. An entry with a model card (``<name>.md`` beside its weights, see
``model_card.py``) takes its licence from the card's ``License:`` line and shows the card's
summary in ``welcome``.
"""
from __future__ import annotations

import importlib
import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol

import numpy as np

from backend.models.model_card import ModelCard, read_card
from shared.payload import MeshPayload

log = logging.getLogger(__name__)

PROVIDERS = ("backend.procedural.model", "backend.models.kiln_shape", "backend.models.published.provider",
             "backend.models.kiln_parts", "backend.models.diffusion_texture", "backend.models.kiln_artist")
WEIGHTS_DIR = Path(__file__).resolve().parents[1] / "weights"   # embedded models: weights, config, card


class ShapeModel(Protocol):
    """A loaded shape generator."""

    def generate(self, prompt: str | None, image: np.ndarray | None, params: dict,
                 progress, cancel) -> MeshPayload: ...


@dataclass
class ModelEntry:
    """One registered model. ``load(device)`` returns a ready model; it is called lazily."""

    name: str
    capability: str                      # "shape"
    description: str
    license: str
    conditioning: tuple[str, ...]        # subset of ("text", "image")
    load: Callable[[str], Any]
    weights: Path | None = None
    priority: int = 0                    # the highest-priority entry of a capability is the default
    extra: dict = field(default_factory=dict)
    card: Path | None = None             # the model card (default: ``<weights stem>.md`` beside the weights)
    card_info: ModelCard | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        """Read the card; its ``License:`` line replaces ``license``."""
        if self.card is None and self.weights is not None and self.weights.with_suffix(".md").is_file():
            self.card = self.weights.with_suffix(".md")
        if self.card is None:
            return
        try:
            self.card_info = read_card(self.card)
        except (OSError, ValueError) as exc:
            log.warning("model %s: card %s not used: %s", self.name, self.card, exc)
            return
        if self.card_info.license:
            self.license = self.card_info.license

    def describe(self) -> dict:
        """The JSON description clients see in ``welcome``."""
        info = self.card_info
        return {"name": self.name, "capability": self.capability, "description": self.description,
                "license": self.license, "conditioning": list(self.conditioning),
                "weights": self.weights.name if self.weights else None,
                "card": info.path.name if info else None, "summary": info.summary if info else None, **self.extra}


class ModelRegistry:
    """Holds entries and loaded models; at most ``max_loaded`` models stay in memory."""

    def __init__(self, models_dir: Path | None = None, device: str = "cpu", max_loaded: int = 2):
        self.models_dir = Path(models_dir) if models_dir else None
        self.device = device
        self.max_loaded = max_loaded
        self._entries: dict[str, ModelEntry] = {}
        self._loaded: OrderedDict[str, Any] = OrderedDict()
        self._lock = threading.RLock()

    def register(self, entry: ModelEntry) -> None:
        """Add or replace an entry."""
        with self._lock:
            self._entries[entry.name] = entry

    def discover(self) -> None:
        """Ask every installed provider for its entries."""
        for module_name in PROVIDERS:
            try:
                module = importlib.import_module(module_name)
            except ModuleNotFoundError as exc:
                if exc.name and module_name.startswith(exc.name):
                    continue  # provider not part of this install
                raise
            for entry in module.model_entries(self.models_dir):
                self.register(entry)

    def entries(self, capability: str | None = None) -> list[ModelEntry]:
        """Entries, highest priority first."""
        with self._lock:
            found = [e for e in self._entries.values() if capability in (None, e.capability)]
        return sorted(found, key=lambda e: (-e.priority, e.name))

    def default_name(self, capability: str) -> str | None:
        """The name of the default model for ``capability`` (None when there is none)."""
        found = self.entries(capability)
        return found[0].name if found else None

    def entry(self, name: str) -> ModelEntry:
        with self._lock:
            if name not in self._entries:
                raise KeyError(f"unknown model {name!r}; known: {', '.join(sorted(self._entries))}")
            return self._entries[name]

    def get(self, name: str) -> Any:
        """The loaded model ``name``, loading it (and evicting the least recently used) if needed."""
        with self._lock:
            if name in self._loaded:
                self._loaded.move_to_end(name)
                return self._loaded[name]
            entry = self.entry(name)
            while len(self._loaded) >= self.max_loaded:
                self._evict(next(iter(self._loaded)))
            log.info("loading model %s on %s", name, self.device)
            model = entry.load(self.device)
            self._loaded[name] = model
            return model

    def loaded(self) -> list[str]:
        with self._lock:
            return list(self._loaded)

    def unload(self, name: str | None = None) -> list[str]:
        """Free one model (or all with None); returns the names unloaded."""
        with self._lock:
            names = [name] if name else list(self._loaded)
            done = [n for n in names if n in self._loaded]
            for n in done:
                self._evict(n)
            return done

    def _evict(self, name: str) -> None:
        self._loaded.pop(name, None)
        log.info("unloaded model %s", name)
        if self.device.startswith("cuda"):
            import torch
            torch.cuda.empty_cache()


_registry: ModelRegistry | None = None
_registry_lock = threading.Lock()


def configure(models_dir: Path | None = None, device: str = "cpu", max_loaded: int = 2) -> ModelRegistry:
    """Create the process-wide registry (server/CLI start-up) and discover providers."""
    global _registry
    registry = ModelRegistry(models_dir, device, max_loaded)
    registry.discover()
    with _registry_lock:
        _registry = registry
    return registry


def get_registry() -> ModelRegistry:
    """The process-wide registry; configured with defaults (CPU, no models folder) on first use."""
    with _registry_lock:
        if _registry is not None:
            return _registry
    return configure()
