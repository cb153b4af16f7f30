"""The ``texture`` op: UVs (kept, or made when missing/unusable) and baked PBR textures.

Default model ``procedural`` (CPU): the prompt is split into material phrases that are matched
to the mesh's parts (its own part ids, else the parts engine's); each part's material field is
evaluated in the part's own frame (grain and brushing along its long axis), weathered with edge
wear and dirt from curvature and ambient occlusion, and baked to base colour, roughness,
metallic and a normal map. An input image is projected from its view onto the surface that
camera sees; the rest takes the nearest seen colour. ``info`` says which material went on
which part and why. Diffusion models (a Stable Diffusion folder + a ControlNet in the models
folder) paint the mesh from generated views instead (:mod:`backend.ops.texture_diffusion`).
"""
from __future__ import annotations

import dataclasses

import numpy as np
from scipy import ndimage

from shared.payload import ImagePayload, Material, MeshPayload
from shared.protocol import ParamSpec, ProtocolError

from backend.geometry import bake
from backend.geometry.camera import VIEWS, box_view
from backend.geometry.component_groups import face_components
from backend.geometry.material_fields import material_by_name
from backend.geometry.surface_wear import height_to_normal, wear_and_dirt
from backend.geometry.uv_project import project_unwrap
from backend.geometry.uv_unwrap import unwrap_triangles, with_triangle_uvs
from backend.geometry.view_grid import cameras, grid, render_view, ungrid
from backend.models.diffusion_texture import CAPABILITY as DIFFUSION
from backend.models.material_choice import MaterialPlan, PartChoice, encoder_available, needs_parts, plan_part_materials

from .base import CancelToken, InputSpec, OpError, ProgressFn, input_mesh, sub_progress
from backend.models.registry import get_registry

from .parts import find_parts

NAME = "texture"
RESOURCE = "cpu"
SUMMARY = "UV-unwrap if needed and bake PBR textures per part from a prompt and/or an image."
INPUTS = {"mesh": InputSpec("mesh", required=True, help="the mesh to texture (UVs optional)"),
          "image": InputSpec("image", required=False,
                             help="RGBA reference; alpha = object mask; info.view: front (default), back, "
                                  "left, right, top or bottom")}
SEED = 0
MAX_RESOLUTION = 4096
XATLAS_MAX_TRIANGLES = 4000   # above this, box-projection charts (xatlas takes a minute at 20k)
OVERLAP_LIMIT = 1.05          # UV area / covered texels above this: charts overlap
_CHUNK = 262_144
MIN_PIECE_TEXELS = 64         # connected pieces with fewer texels use their part's frame
MAX_PIECES = 256              # per part; the rest share the part's frame


def params_schema() -> list[ParamSpec]:
    return [
        ParamSpec("prompt", "str", "", "what the surface is made of, per part if you like: "
                  "'a chair with oak legs and a red leather seat'", max_length=500),
        ParamSpec("resolution", "int", 1024, "texture size in pixels (square)", minimum=64, maximum=MAX_RESOLUTION),
        ParamSpec("pbr", "bool", True, "also bake roughness, metallic and normal textures"),
        ParamSpec("wear", "float", 0.5, "edge wear and dirt (0 = none); 'old'/'new' in the prompt raise/lower it",
                  minimum=0.0, maximum=1.0),
        ParamSpec("model", "choice", "procedural", "procedural: per-part materials on the CPU; or a Stable "
                  "Diffusion + depth ControlNet folder from the models folder (GPU)", choices=_models()),
        ParamSpec("negative_prompt", "str", "", "what the painted views should not show (diffusion models)",
                  max_length=500),
        ParamSpec("steps", "int", 20, "denoising steps (diffusion models)", minimum=1, maximum=150),
        ParamSpec("guidance", "float", 7.5, "classifier-free guidance (diffusion models)", minimum=0.0, maximum=30.0),
        ParamSpec("seed", "int", 0, "random seed (diffusion models)", minimum=0, maximum=2**31 - 1),
        ParamSpec("view_size", "int", 512, "pixels per view; 4 views are painted in one 2x2 image (diffusion models)",
                  minimum=64, maximum=1024),
        ParamSpec("attention_slicing", "bool", True, "lower VRAM, a little slower (diffusion models)"),
        ParamSpec("offload", "bool", False, "keep idle sub-models in CPU memory: fits 8 GB cards (diffusion, CUDA)"),
    ]


def _models() -> list[str]:
    return ["procedural"] + [e.name for e in get_registry().entries(DIFFUSION)]


def available() -> tuple[bool, str]:
    return encoder_available()


def _inputs(inputs: dict) -> tuple[MeshPayload, ImagePayload | None]:
    mesh = input_mesh(inputs, NAME)
    image = inputs.get("image")
    if image is not None and not isinstance(image, ImagePayload):
        raise OpError("input 'image' must be an RGBA image")
    if image is not None and image.info.get("view", "front") not in VIEWS:
        raise OpError(f"image view {image.info.get('view')!r} unknown; use one of {', '.join(VIEWS)}")
    try:
        if image is not None:
            image.validate("image")
    except ProtocolError as exc:
        raise OpError(exc.message) from None
    return mesh, image


def triangle_corner_uvs(mesh: MeshPayload) -> np.ndarray:
    """Per-triangle corner UVs (T,3,2) matching :meth:`MeshPayload.triangulated`."""
    sizes = mesh.face_sizes.astype(np.int64)
    tri_face = mesh.triangle_face_ids().astype(np.int64)
    first_tri = np.concatenate([[0], np.cumsum(sizes - 2)])[:-1]
    k = np.arange(len(tri_face)) - first_tri[tri_face]
    base = mesh.face_offsets()[:-1][tri_face]
    corners = np.stack([base, base + k + 1, base + k + 2], axis=1)
    return mesh.corner_uvs[corners].astype(np.float64)


def _cropped_to_mask(pixels: np.ndarray) -> np.ndarray:
    """Float RGBA image cropped to the bounding box of its alpha mask (whole image if no mask)."""
    image = pixels.astype(np.float64) / 255.0
    rows = np.flatnonzero((pixels[..., 3] > 8).any(axis=1))
    cols = np.flatnonzero((pixels[..., 3] > 8).any(axis=0))
    if len(rows) == 0:
        raise OpError("the input image is fully transparent: its alpha should mark the object")
    return image[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]


def resolution_param(params: dict) -> int:
    size = int(params.get("resolution") or 1024)
    if not 64 <= size <= MAX_RESOLUTION:
        raise OpError(f"resolution {size} is out of range: textures are 64 to {MAX_RESOLUTION} pixels square")
    return size


def _unwrap(mesh: MeshPayload, size: int, cancel: CancelToken) -> tuple[MeshPayload, str]:
    triangles = mesh.triangulated()
    if len(triangles) <= XATLAS_MAX_TRIANGLES:
        tri_uvs, note = unwrap_triangles(mesh.positions, triangles, size, check=cancel.check)
    else:
        tri_uvs, charts = project_unwrap(mesh.positions, triangles, size, max(2, size // 256), check=cancel.check)
        note = f"box-projection unwrap ({charts} charts; xatlas is used up to {XATLAS_MAX_TRIANGLES} triangles)"
    mesh, split = with_triangle_uvs(mesh, tri_uvs)
    return mesh, note + (f"; {split} polygons split into triangles across UV seams" if split else "")


def uv_problem(corner_uvs: np.ndarray, texels: bake.TexelMap) -> str | None:
    """Why UVs cannot hold one baked texture (outside [0,1], overlapping, collapsed), or None."""
    if not np.isfinite(corner_uvs).all():
        return "they are not finite"
    if corner_uvs.min() < -1e-4 or corner_uvs.max() > 1 + 1e-4:
        return f"they leave the [0,1] square ({corner_uvs.min():.2f} to {corner_uvs.max():.2f})"
    if len(texels.index) == 0:
        return "they cover no texel (collapsed)"
    px = corner_uvs * texels.size
    area = 0.5 * np.abs((px[:, 1, 0] - px[:, 0, 0]) * (px[:, 2, 1] - px[:, 0, 1])
                        - (px[:, 1, 1] - px[:, 0, 1]) * (px[:, 2, 0] - px[:, 0, 0])).sum()
    if area > OVERLAP_LIMIT * len(texels.index) + 2.0 * np.sqrt(area):
        return f"charts overlap ({area / len(texels.index):.2f}x more UV area than covered texels)"
    return None


def prepare_uvs(mesh: MeshPayload, size: int, progress: ProgressFn,
                cancel: CancelToken) -> tuple[MeshPayload, bake.TexelMap, str]:
    """The mesh with usable UVs (its own when they are), its texel map, and a note on what was done."""
    if mesh.corner_uvs is not None:
        progress(0.05, "texel map", f"{size}x{size}")
        texels = bake.texel_map(mesh.positions, mesh.triangulated(), triangle_corner_uvs(mesh), size,
                                check=cancel.check)
        problem = uv_problem(triangle_corner_uvs(mesh), texels)
        if problem is None:
            return mesh, texels, "kept the input UVs"
        prefix = f"the input UVs cannot hold one texture ({problem}): made new ones; "
    else:
        prefix = ""
    progress(0.05, "unwrapping", f"{mesh.num_faces} faces")
    mesh, note = _unwrap(mesh, size, cancel)
    cancel.check()
    progress(0.2, "texel map", f"{size}x{size}")
    texels = bake.texel_map(mesh.positions, mesh.triangulated(), triangle_corner_uvs(mesh), size, check=cancel.check)
    if len(texels.index) == 0:
        raise OpError("the mesh covers no texel even after unwrapping: is it degenerate (zero area)?")
    return mesh, texels, prefix + note


def _parts(mesh: MeshPayload, prompt: str, progress: ProgressFn,
           cancel: CancelToken) -> tuple[np.ndarray, list[str], list[Material | None], str]:
    """Per-face part ids, names, each part's own material (or None), and where they came from."""
    if mesh.part_ids is not None and len(mesh.part_names) > int(mesh.part_ids.max(initial=-1)):
        own = [mesh.materials[m] if 0 <= m < len(mesh.materials) else None for m in mesh.part_materials]
        own += [None] * (len(mesh.part_names) - len(own))
        return mesh.part_ids.astype(np.int64), list(mesh.part_names), own, "the mesh's own parts"
    own_material = mesh.materials[0] if len(mesh.materials) == 1 else None
    if prompt and needs_parts(prompt):
        report = sub_progress(progress, 0.22, 0.35)
        found = find_parts(mesh, 0, "auto", lambda f, s, m="": report(f, "finding parts", m), cancel)
        how = f"parts engine ({found.info.get('path', 'geometric')})"
        return (found.part_ids.astype(np.int64), found.names, [own_material] * len(found.names),
                f"{how}: " + "; ".join(found.notes))
    return np.zeros(mesh.num_faces, dtype=np.int64), ["object"], [own_material], "one part (the prompt names one material)"


def _part_frame(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Centre and rotation (rows: long, middle, short axis) of a point set."""
    center = points.mean(0)
    if len(points) < 3:
        return center, np.eye(3)
    _, _, axes = np.linalg.svd(points[:: max(1, len(points) // 20000)] - center, full_matrices=False)
    if np.linalg.det(axes) < 0:
        axes[2] = -axes[2]
    return center, axes


def _piece_frames(texels: bake.TexelMap, rows: np.ndarray, texel_piece: np.ndarray):
    """(texel rows, centre, axes) for each connected piece of a part: each leg of a chair gets
    its own long axis; pieces too small to have one share the part's frame."""
    pieces = texel_piece[rows]
    ids, counts = np.unique(pieces, return_counts=True)
    big = ids[counts >= MIN_PIECE_TEXELS]
    small = rows[~np.isin(pieces, big)]
    frames = [(rows[pieces == piece], *_part_frame(texels.points[rows[pieces == piece]]))
              for piece in big[:MAX_PIECES]]
    rest = np.concatenate([small, rows[np.isin(pieces, big[MAX_PIECES:])]])
    if len(rest):
        frames.append((rest, *_part_frame(texels.points[rows])))
    return frames


def bake_materials(texels: bake.TexelMap, texel_part: np.ndarray, texel_piece: np.ndarray, plan: MaterialPlan,
                   diag: float, cancel: CancelToken, report) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Evaluate every part's material field in each piece's own frame; channel values (N,C) and per-texel 'bare'."""
    n = len(texels.index)
    values = {"base_color": np.zeros((n, 3)), "roughness": np.zeros((n, 1)), "metallic": np.zeros((n, 1)),
              "height": np.full((n, 1), 0.5)}
    bare = np.zeros(n)
    done = 0
    for choice in plan.choices:
        rows = np.flatnonzero(texel_part == choice.part)
        if len(rows) == 0:
            continue
        field = choice.kind.make(choice.tint, SEED + choice.part)
        for piece_rows, center, axes in _piece_frames(texels, rows, texel_piece):
            for start in range(0, len(piece_rows), _CHUNK):
                cancel.check()
                chunk = piece_rows[start:start + _CHUNK]
                local = (texels.points[chunk] - center) @ axes.T / diag
                out = field(local, texels.normals[chunk] @ axes.T)
                for channel in values:
                    values[channel][chunk] = out[channel].reshape(len(chunk), -1)
                done += len(chunk)
                report(done / max(n, 1), choice.part_name)
        bare[rows] = choice.kind.bare
    return values, bare


def weather(values: dict[str, np.ndarray], wear: np.ndarray, dirt: np.ndarray, bare: np.ndarray,
            amount: float) -> None:
    """Edge wear (brighter, smoother under-layer where ``bare``) and dirt (darker, rougher), in place."""
    w = (wear * amount)[:, None]
    d = (dirt * amount)[:, None]
    b = bare[:, None]
    base = values["base_color"]
    lifted = base + (1.0 - base) * 0.55 * b + 0.12 * (1 - b)
    base = base * (1 - w) + np.clip(lifted, 0, 1) * w
    grime = np.array([0.16, 0.13, 0.09])
    base = base * (1 - 0.7 * d) + grime * 0.7 * d * 0.6
    values["base_color"] = np.clip(base, 0, 1)
    values["roughness"] = np.clip(values["roughness"] * (1 - 0.5 * w * b) + (1 - values["roughness"]) * 0.6 * d, 0, 1)
    values["metallic"] = np.clip(values["metallic"] * (1 - 0.7 * d), 0, 1)
    values["height"] = np.clip(values["height"] - 0.35 * w, 0, 1)


def _procedural(mesh: MeshPayload, image: ImagePayload | None, params: dict, progress: ProgressFn,
                cancel: CancelToken) -> dict:
    prompt = str(params.get("prompt") or "").strip()
    size = resolution_param(params)
    pbr = bool(params.get("pbr", True))
    wear_amount = float(params.get("wear", 0.5))
    if not 0.0 <= wear_amount <= 1.0:
        raise OpError("wear must be between 0 and 1")
    if not prompt and image is None:
        raise OpError("texture needs a prompt, an image, or both")
    info: dict = {"model": "procedural"}
    progress(0.0, "preparing", f"{mesh.num_faces} faces")
    mesh, texels, info["uv"] = prepare_uvs(mesh, size, progress, cancel)
    positions = mesh.positions.astype(np.float64)
    triangles = mesh.triangulated().astype(np.int64)
    face_part, names, own, info["parts"] = _parts(mesh, prompt, progress, cancel)
    texel_part = face_part[mesh.triangle_face_ids().astype(np.int64)][texels.face]
    texel_piece = face_components(positions, triangles)[texels.face]
    if prompt:
        progress(0.36, "choosing materials", prompt[:60])
        plan = plan_part_materials(prompt, names, own, wear_amount)
    else:
        plastic = material_by_name("plastic")
        plan = MaterialPlan([PartChoice(i, n, plastic, None, None, "no prompt: neutral base under the image")
                             for i, n in enumerate(names)], wear_amount)
    info["materials"] = [c.describe() for c in plan.choices]
    info["wear"] = round(plan.wear, 3)
    if plan.notes:
        info["notes"] = plan.notes
    if len(mesh.materials) > 1:
        info["material_slots"] = (f"the input's {len(mesh.materials)} materials became one textured material; "
                                  "parts the prompt does not name keep their colours in it")
    diag = float(np.linalg.norm(positions.max(0) - positions.min(0))) or 1.0
    report = sub_progress(progress, 0.38, 0.62)
    values, bare = bake_materials(texels, texel_part, texel_piece, plan, diag, cancel,
                                  lambda f, part: report(f, "baking materials", part))
    if plan.wear > 0:
        progress(0.63, "edge wear and dirt", "curvature and ambient occlusion")
        wear, dirt = wear_and_dirt(texels, positions, triangles, SEED, check=cancel.check)
        weather(values, wear, dirt, bare, plan.wear)
    base_color = values["base_color"]
    if image is not None:
        report = sub_progress(progress, 0.7, 0.85)
        picture = _cropped_to_mask(image.pixels)
        view = image.info.get("view", "front")
        camera = box_view(view, positions.min(0), positions.max(0), picture.shape[1], picture.shape[0])
        color, weight = bake.bake_views(texels, positions, triangles, [bake.View(camera, picture)],
                                        check=cancel.check, report=lambda f: report(f, "projecting image"))
        seen = weight > 1e-3
        info["image_coverage"] = round(float(seen.mean()), 4)
        progress(0.86, "filling unseen surface")
        base_color = bake.fill_unseen(color, seen, texels.points, check=cancel.check) if seen.any() else base_color
        info["source"] = f"image projected from the {view} view; unseen surface filled from the nearest seen colour"
    else:
        info["source"] = "procedural materials per part"
    cancel.check()
    progress(0.9, "writing textures")
    gutter = bake.gutter_source(texels.mask)
    textures = {"base_color": bake.to_rgba8(bake.dilate(texels.image(base_color), texels.mask, gutter))}
    if pbr:
        for channel in ("roughness", "metallic"):
            textures[channel] = bake.to_rgba8(bake.dilate(texels.image(values[channel]), texels.mask, gutter))
        height = bake.dilate(texels.image(values["height"], 0.5), texels.mask, gutter)[..., 0]
        textures["normal"] = bake.to_rgba8(height_to_normal(height, strength=size / 512.0))
    out = _with_textures(mesh, textures, pbr, values, info)
    progress(1.0, "done", ", ".join(f"{c.part_name}: {c.kind.name}" for c in plan.choices[:6]))
    return {"mesh": out}


def _with_textures(mesh: MeshPayload, textures: dict, pbr: bool, values: dict | None, info: dict) -> MeshPayload:
    """The mesh with one material holding ``textures`` (factors 1 where a texture drives them)."""
    if pbr:
        roughness = metallic = 1.0
    elif values is not None:
        roughness, metallic = float(values["roughness"].mean()), float(values["metallic"].mean())
    elif mesh.materials:  # an image model paints colour only: the artist's surface factors stay
        roughness, metallic = float(mesh.materials[0].roughness), float(mesh.materials[0].metallic)
    else:
        roughness, metallic = 0.5, 0.0
    material = Material(name="kiln_textured", base_color=(1.0, 1.0, 1.0, 1.0), roughness=roughness, metallic=metallic)
    out = dataclasses.replace(mesh, info={**mesh.info, "texture": info}, materials=[material],
                              part_materials=[0] * len(mesh.part_names), textures=textures)
    out.validate("mesh")
    return out


def _diffusion(mesh: MeshPayload, texels: bake.TexelMap, model: str, prompt: str, params: dict,
               progress: ProgressFn, cancel: CancelToken) -> tuple[dict, dict]:
    """Paint 4 views in one image with a depth ControlNet, project them onto the UVs, fill the rest."""
    registry = get_registry()
    try:
        entry = registry.entry(model)
    except KeyError:
        raise OpError(f"unknown texture model {model!r}; use one of {', '.join(_models())}") from None
    if entry.capability != DIFFUSION:
        raise OpError(f"model {model!r} is a {entry.capability} model, not a texture model")
    progress(0.22, "loading model", model)
    try:
        painter = registry.get(model)
    except (ValueError, OSError, RuntimeError, ImportError) as exc:
        raise OpError(f"could not load texture model {model!r}: {exc}") from None
    cancel.check()
    memory = painter.configure(bool(params.get("attention_slicing", True)), bool(params.get("offload", False)))
    view_size = max(64, int(params.get("view_size") or 512)) // 8 * 8
    steps = int(params.get("steps") or 20)
    positions = mesh.positions.astype(np.float64)
    triangles = mesh.triangulated().astype(np.int64)
    renders = []
    for number, camera in enumerate(cameras(positions, view_size)):
        cancel.check()
        renders.append(render_view(camera, positions, triangles))
        progress(0.25 + 0.05 * (number + 1) / 4, "rendering depth", f"view {number + 1}/4")
    control = grid([np.repeat(r.depth[..., None], 3, axis=-1) for r in renders])

    def step_done(step: int, total: int) -> None:
        cancel.check()
        progress(0.3 + 0.5 * step / total, "denoising", f"step {step}/{total}, 4 views together")

    painted = painter.paint(control, prompt, str(params.get("negative_prompt") or ""), steps,
                            float(params.get("guidance", 7.5)), int(params.get("seed") or 0), step_done)
    views = []
    for tile, render in zip(ungrid(painted, len(renders)), renders):
        alpha = ndimage.binary_erosion(render.mask, iterations=1).astype(np.float64)[..., None]
        views.append(bake.View(render.camera, np.concatenate([tile, alpha], axis=-1)))
    color, weight = bake.bake_views(texels, positions, triangles, views, check=cancel.check,
                                    report=lambda f: progress(0.8 + 0.1 * f, "projecting views",
                                                              f"view {round(f * len(views))}/{len(views)}"))
    seen = weight > 1e-3
    progress(0.9, "filling unseen surface")
    if seen.any():
        color = bake.fill_unseen(color, seen, texels.points, check=cancel.check)
    base = bake.dilate(texels.image(color), texels.mask)
    info = {"model": model, "views": "front, right, back and left painted together in one 2x2 image: one "
            "denoising run sees every view, so colours and style agree across them (no multi-view attention "
            "needed, works with any SD-family checkpoint and ControlNet)",
            "control": "depth (near = white) rendered by Kiln's rasterizer", "coverage": round(float(seen.mean()), 4),
            "memory": memory, "steps": steps, "source": "diffusion views projected onto the UVs; unseen surface "
            "filled from the nearest seen colour; base colour only (the model paints no PBR maps)"}
    return {"base_color": bake.to_rgba8(base)}, info


def run(inputs: dict, params: dict, progress: ProgressFn, cancel: CancelToken) -> dict:
    """Texture ``inputs['mesh']``; returns ``{'mesh': mesh with corner_uvs, a material and textures}``."""
    mesh, image = _inputs(inputs)
    model = params.get("model") or "procedural"
    if model == "procedural":
        return _procedural(mesh, image, params, progress, cancel)
    size = resolution_param(params)
    prompt = str(params.get("prompt") or "").strip()
    if not prompt:
        raise OpError(f"the diffusion model {model!r} needs a prompt")
    progress(0.0, "preparing", f"{mesh.num_faces} faces")
    mesh, texels, uv_note = prepare_uvs(mesh, size, progress, cancel)
    textures, info = _diffusion(mesh, texels, model, prompt, params, progress, cancel)
    info["uv"] = uv_note
    out = _with_textures(mesh, textures, False, None, info)
    progress(1.0, "done", model)
    return {"mesh": out}
