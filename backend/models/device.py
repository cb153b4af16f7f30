"""Device choice: CUDA when present, else CPU; an explicit request is checked, never ignored."""
from __future__ import annotations


def pick_device(requested: str | None = None) -> str:
    """Return 'cuda' or 'cpu'. ``requested`` None/'auto' picks CUDA when available."""
    import torch

    if requested in (None, "", "auto"):
        return "cuda" if torch.cuda.is_available() else "cpu"
    if requested.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device {requested!r} requested but CUDA is not available")
    if requested != "cpu" and not requested.startswith("cuda"):
        raise ValueError(f"unknown device {requested!r}; use cpu, cuda or auto")
    return requested
