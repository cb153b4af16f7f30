"""The generate op: a prompt and/or an image -> a mesh, by the chosen shape model.

The model comes from the registry (``kiln-backend models``), or, with ``model=auto`` (the
default), from the routing in ``generate_route.py``: the procedural engine for prompts that name
one of its categories, a learned model otherwise. The chosen model's ``generate(prompt, image,
params, progress, cancel)`` does the work. The result's ``info`` says which model made it, the
category and confidence, a one-line ``summary`` and, when nothing matched well, a ``warning``.
"""
from __future__ import annotations

from backend.models.registry import get_registry
from shared.payload import MeshPayload
from shared.protocol import ParamSpec

from .base import InputSpec, OpError, sub_progress
from .generate_route import AUTO, choose, report

NAME = "generate"
RESOURCE = "model"
SUMMARY = "Generate a 3D asset from a text prompt and/or an image"
INPUTS = {"image": InputSpec("image", required=False, help="reference image (RGBA) for image-conditioned models")}


def params_schema() -> list[ParamSpec]:
    """Parameters; the model choices are the registry's shape models, the default its default."""
    registry = get_registry()
    names = [AUTO] + [e.name for e in registry.entries("shape") if e.name != AUTO]
    return [
        ParamSpec("prompt", "str", "", help="what to make, e.g. 'a tall wooden chair with a slatted back'",
                  max_length=1000),
        ParamSpec("model", "choice", AUTO, choices=names,
                  help="shape model; auto: the procedural engine when the prompt names one of its categories, "
                       "else the learned model"),
        ParamSpec("seed", "int", 0, help="variation; the same seed gives the same result", minimum=0,
                  maximum=2 ** 31 - 1),
        ParamSpec("steps", "int", 25, help="sampling steps (learned models)", minimum=1, maximum=500),
        ParamSpec("guidance", "float", 5.0, help="classifier-free guidance scale (learned models)", minimum=0.0,
                  maximum=50.0),
        ParamSpec("resolution", "int", 256, minimum=32, maximum=1024,
                  help="finest mesh extraction grid (learned models); refinement stops earlier once the "
                       "surface has enough triangles for the face budget"),
        ParamSpec("texture", "bool", False, help="also paint textures when the model can"),
    ]


def available() -> tuple[bool, str]:
    try:
        shape_models = get_registry().entries("shape")
    except Exception as exc:  # a broken model provider must not take the op list down with it
        return False, f"the model registry failed to load: {exc}"
    if not shape_models:
        return False, "no shape model is registered"
    return True, ""


def run(inputs: dict, params: dict, progress, cancel) -> dict[str, MeshPayload]:
    """Resolve the model, check it can use what was given, and generate."""
    prompt = (params.get("prompt") or "").strip()
    image = inputs.get("image")
    if not prompt and image is None:
        raise OpError("nothing to generate from: give a prompt (e.g. 'a wooden chair'), an image, or both")
    registry = get_registry()
    requested = params.get("model") or AUTO
    if requested == AUTO:
        progress(0.0, "route", "choosing a model for the prompt")
    route = choose(registry, requested, prompt, image is not None)
    name = route.model
    try:
        entry = registry.entry(name)
    except KeyError as exc:
        raise OpError(str(exc.args[0])) from None
    if entry.capability != "shape":
        raise OpError(f"model {name!r} is a {entry.capability} model, not a shape model")
    if not prompt and "image" not in entry.conditioning:
        image_models = [e.name for e in registry.entries("shape") if "image" in e.conditioning]
        hint = f"choose one of: {', '.join(image_models)}" if image_models else "no image model is installed"
        raise OpError(f"model {name!r} needs a text prompt and cannot use an image alone; add a prompt or {hint}")
    if image is not None and "image" not in entry.conditioning and prompt:
        progress(0.0, "load", f"{name} ignores the image; generating from the prompt")
    if prompt and "text" not in entry.conditioning and image is None:
        raise OpError(f"model {name!r} needs an image; attach one or choose a text model")
    progress(0.02, "load", f"loading {name}")
    model = registry.get(name)
    cancel.check()
    pixels = image.pixels if image is not None and "image" in entry.conditioning else None
    mask_method = None
    if pixels is not None:
        from backend.models.image_mask import object_mask
        mask_method = object_mask(pixels)[1]
        if mask_method != "alpha channel":
            progress(0.03, "load", f"image mask {mask_method}")
    try:
        mesh = model.generate(prompt or None, pixels, dict(params), sub_progress(progress, 0.05, 1.0), cancel)
    except ValueError as exc:
        raise OpError(f"{name}: {exc}") from None
    mesh.validate("mesh")
    routed = report(route, prompt)
    warnings = [w for w in (routed.get("warning"), mesh.info.get("warning")) if w]   # the route's, the model's
    mesh.info = {"model": name, **mesh.info, **routed}
    if warnings:
        mesh.info["warning"] = " ".join(warnings)
    if mask_method:
        mesh.info["image_mask"] = mask_method
    return {"mesh": mesh}
