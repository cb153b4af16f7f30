"""Turn the artist's settings into an op's params, using only what the server says it accepts."""
from __future__ import annotations

from .props import NO_CHOICE

QUALITY_SCALE = {"DRAFT": 0.5, "STANDARD": 1.0, "HIGH": 2.0}


def supported(specs: list[dict], wanted: dict) -> tuple[dict, list[str]]:
    """Keep the entries of ``wanted`` the server has a parameter for; also return the names dropped."""
    names = {s.get("name") for s in specs}
    kept = {k: v for k, v in wanted.items() if k in names and v is not None and v != NO_CHOICE}
    return kept, sorted(k for k in wanted if k not in names)


def scaled(spec: dict | None, factor: float):
    """The server default of a numeric parameter scaled by ``factor`` and clamped to its bounds."""
    if not spec or spec.get("type") not in ("int", "float") or spec.get("default") is None:
        return None
    value = spec["default"] * factor
    if spec.get("minimum") is not None:
        value = max(value, spec["minimum"])
    if spec.get("maximum") is not None:
        value = min(value, spec["maximum"])
    return int(round(value)) if spec["type"] == "int" else float(value)


def quality_params(specs: list[dict], preset: str) -> dict:
    """Map a quality preset onto the server's knobs: a 'quality' choice, or scaled steps/resolution."""
    by_name = {s.get("name"): s for s in specs}
    quality = by_name.get("quality")
    if quality and quality.get("type") == "choice":
        return {"quality": preset.lower()} if preset.lower() in quality.get("choices", []) else {}
    factor = QUALITY_SCALE[preset]
    found = {}
    for name in ("steps", "resolution", "octree_resolution", "num_steps"):
        value = scaled(by_name.get(name), factor)
        if value is not None:
            found[name] = value
    return found


def symmetry_value(spec: dict | None, axis: str):
    """'NONE'/'X'/'Y'/'Z' in the form the server's 'symmetry' parameter takes (bool or choice)."""
    if not spec:
        return None
    if spec.get("type") == "bool":
        return axis != "NONE"
    if spec.get("type") == "choice":
        choices = [str(c) for c in spec.get("choices", [])]
        for choice in choices:
            if choice.lower() in ({"none", "off", "no"} if axis == "NONE" else {axis.lower(), f"{axis.lower()}-axis"}):
                return choice
    return None


def choice_or_int(spec: dict | None, value: int):
    """A size like 1024 as the server takes it: an int, or the matching choice string."""
    if not spec:
        return None
    if spec.get("type") == "choice":
        choices = [str(c) for c in spec.get("choices", [])]
        return str(value) if str(value) in choices else None
    return int(value)
