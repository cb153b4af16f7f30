"""Which shape model answers a generate request, and what the user is told about it.

``model=auto`` (the default) takes the procedural engine when the prompt confidently names one of
its categories (the prompt matcher's calibrated confidence >= 0.5, see
``backend/procedural/prompt.py``) and the best learned model otherwise; an image always goes to a
learned model that reads images (the procedural engine cannot). Nothing is substituted silently:
``report`` writes ``summary`` (e.g. "chair, procedural, 92%") and, when no category matched well,
``warning`` (e.g. "no category is close to 'a dragon'; nearest: sword (3%) ...") into the result's
info, also when the procedural model was asked for by name.
"""
from __future__ import annotations

from dataclasses import dataclass

from backend.runtime import OpError

AUTO = "auto"
PROCEDURAL = "procedural"


@dataclass
class Route:
    """The model chosen for one request and why."""

    model: str
    requested: str
    reason: str                        # "category", "no-category", "image", "asked", "no-learned-model"
    match: object | None = None        # the prompt matcher's Match, when the prompt was matched


def learned_models(registry, needs_image: bool) -> list[str]:
    """Registered shape models other than the procedural engine, best first, that take what was given."""
    wanted = "image" if needs_image else "text"
    return [e.name for e in registry.entries("shape") if e.name != PROCEDURAL and wanted in e.conditioning]


def matcher(registry):
    """The procedural engine's prompt matcher (loads the procedural model), or None when it is absent."""
    try:
        registry.entry(PROCEDURAL)
    except KeyError:
        return None
    return registry.get(PROCEDURAL).matcher


def choose(registry, requested: str, prompt: str, has_image: bool) -> Route:
    """Resolve ``requested`` (a model name or ``auto``) into a Route."""
    if requested != AUTO:
        match = None
        if requested == PROCEDURAL and prompt:
            found = matcher(registry)
            match = found.match(prompt) if found else None
        return Route(requested, requested, "asked", match)
    if has_image:
        names = learned_models(registry, needs_image=True)
        if names:
            return Route(names[0], AUTO, "image")
        if not prompt:
            raise OpError("no installed model can generate from an image alone; add a prompt")
    found = matcher(registry)
    match = found.match(prompt) if found else None
    if match is not None and match.matched:
        return Route(PROCEDURAL, AUTO, "category", match)
    names = learned_models(registry, needs_image=False)
    if names:
        return Route(names[0], AUTO, "no-category", match)
    if match is not None:
        return Route(PROCEDURAL, AUTO, "no-learned-model", match)
    raise OpError("no shape model can take this prompt; install a learned shape model")


def _quoted(prompt: str, limit: int = 60) -> str:
    text = " ".join(prompt.split())
    return f"'{text[:limit - 1]}…'" if len(text) > limit else f"'{text}'"


def report(route: Route, prompt: str) -> dict:
    """The info entries that say which model made the result, which category, how confident."""
    match = route.match
    info: dict = {"requested_model": route.requested, "route": route.reason}
    if route.model == PROCEDURAL and match is not None:
        info["summary"] = f"{match.category.replace('_', ' ')}, procedural, {match.confidence:.0%}"
    elif route.reason == "image":
        info["summary"] = f"{route.model}, learned, from the image"
    else:
        info["summary"] = f"{route.model}, learned"
    if match is None:
        return info
    info["matched"] = bool(match.matched)
    if route.model != PROCEDURAL:
        info["nearest_category"] = match.category
        info["confidence"] = round(match.confidence, 4)
    if not match.matched:
        nearest = f"no category is close to {_quoted(prompt)}; nearest: {match.category.replace('_', ' ')} " \
                  f"({match.confidence:.0%})"
        if route.model == PROCEDURAL and route.reason == "asked":
            tail = (f"the procedural model made a {match.category.replace('_', ' ')} anyway; "
                    f"choose model '{AUTO}' or a learned model for other objects")
        elif route.model == PROCEDURAL:
            tail = f"no learned model is installed, so the procedural model made a {match.category.replace('_', ' ')}"
        else:
            tail = f"the learned model {route.model} made it"
        info["warning"] = f"{nearest}. {tail[0].upper()}{tail[1:]}."
    return info
