"""Op registry: the op modules Kiln knows, and which of them work in this install.

Each op lives in its own module (see ``backend/ops/base.py`` for the contract). An op whose
module fails to import, or whose ``available()`` says no, is not advertised to clients.
"""
from __future__ import annotations

import importlib
import logging
from types import ModuleType

OP_MODULES = ("generate", "retopo", "parts", "texture")

log = logging.getLogger(__name__)


def load_op(name: str) -> ModuleType:
    """Import one op module by op name (raises ImportError / KeyError)."""
    if name not in OP_MODULES:
        raise KeyError(name)
    return importlib.import_module(f"{__name__}.{name}")


def available_ops(names: tuple[str, ...] | list[str] | None = None) -> dict[str, ModuleType]:
    """The ops (all, or only ``names``) that import and report themselves available, by name."""
    found: dict[str, ModuleType] = {}
    for name in OP_MODULES if names is None else [n for n in OP_MODULES if n in names]:
        try:
            module = load_op(name)
        except ModuleNotFoundError as exc:
            if exc.name == f"{__name__}.{name}":
                continue  # op not written yet
            log.warning("op %s unavailable: %s", name, exc)
            continue
        ok, reason = module.available()
        if ok:
            found[name] = module
        else:
            log.info("op %s unavailable: %s", name, reason)
    return found
