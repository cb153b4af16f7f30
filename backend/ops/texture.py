"""The ``texture`` op: UVs (xatlas when missing) and baked PBR textures from an image and/or a prompt.

With an image: it is projected from Blender's front view (or the view named in the image's
``info.view``) onto the surface that camera sees (depth-map visibility, view-angle blending); everything else takes the colour of the
nearest seen surface, and UV gutters are dilated. With a prompt only: a procedural material
field (wood, stone, metal, fabric...) chosen by MiniLM similarity is baked. This is the honest
baseline until a learned texture model lands; it calls the same bake engine.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from shared.payload import ImagePayload, Material, MeshPayload
from shared.protocol import ParamSpec, ProtocolError

from backend.geometry import bake
from backend.geometry.camera import VIEWS, box_view
from backend.models.material_choice import choose_material, encoder_available
from backend.geometry.material_fields import color_in_prompt, material_by_name
from backend.geometry.uv_unwrap import unwrap_triangles, with_triangle_uvs

from .base import CancelToken, InputSpec, OpError, ProgressFn, input_mesh, sub_progress

NAME = "texture"
RESOURCE = "cpu"
SUMMARY = "UV-unwrap if needed and bake base colour (+ roughness/metallic) from a prompt and/or an image."
INPUTS = {"mesh": InputSpec("mesh", required=True, help="the mesh to texture (UVs optional)"),
          "image": InputSpec("image", required=False,
                             help="RGBA reference; alpha = object mask; info.view: front (default), back, "
                                  "left, right, top or bottom")}
SEED = 0


def params_schema() -> list[ParamSpec]:
    return [
        ParamSpec("prompt", "str", "", "what the surface is made of, e.g. 'weathered oak'", max_length=500),
        ParamSpec("resolution", "int", 1024, "texture size in pixels (square)", minimum=64, maximum=4096),
        ParamSpec("pbr", "bool", True, "also bake roughness and metallic textures"),
    ]


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


def run(inputs: dict, params: dict, progress: ProgressFn, cancel: CancelToken) -> dict:
    """Texture ``inputs['mesh']``; returns ``{'mesh': mesh with corner_uvs, a material and textures}``."""
    mesh, image = _inputs(inputs)
    prompt = str(params.get("prompt") or "").strip()
    size = int(params.get("resolution") or 1024)
    pbr = bool(params.get("pbr", True))
    if not 64 <= size <= 4096:
        raise OpError("resolution must be between 64 and 4096")
    if not prompt and image is None:
        raise OpError("texture needs a prompt, an image, or both")
    info: dict = {"baseline": "procedural material field picked by MiniLM similarity; no learned texture model yet"}
    progress(0.0, "preparing", f"{mesh.num_faces} faces")

    if mesh.corner_uvs is None:
        progress(0.02, "unwrapping", "xatlas")
        tri_uvs, note = unwrap_triangles(mesh.positions, mesh.triangulated(), size, check=cancel.check)
        mesh, split = with_triangle_uvs(mesh, tri_uvs)
        info["uv"] = note + (f"; {split} polygons split into triangles across UV seams" if split else "")
    else:
        info["uv"] = "kept the input UVs"
    cancel.check()
    positions = mesh.positions.astype(np.float64)
    triangles = mesh.triangulated().astype(np.int64)
    progress(0.3, "texel map", f"{size}x{size}")
    texels = bake.texel_map(positions, triangles, triangle_corner_uvs(mesh), size, check=cancel.check)
    if len(texels.index) == 0:
        raise OpError("the mesh's UVs cover no texel: check that they lie in [0,1] and are not collapsed")

    kind = material_by_name("plastic")
    if prompt:
        progress(0.35, "choosing material", prompt[:60])
        kind, similarity, top = choose_material(prompt)
        info["material"] = kind.name
        info["similarity"] = round(similarity, 4)
        info["alternatives"] = [{"material": n, "similarity": round(s, 4)} for n, s in top]
    color_word, tint = color_in_prompt(prompt)
    if color_word:
        info["color"] = color_word
    low, high = positions.min(0), positions.max(0)
    center, diag = 0.5 * (low + high), float(np.linalg.norm(high - low)) or 1.0
    material_field = kind.make(tint, SEED)

    def field(points, normals):
        return material_field((points - center) / diag, normals)

    cancel.check()
    progress(0.4, "baking material", kind.name)
    values = bake.bake_field(texels, field, check=cancel.check,
                             report=lambda f: progress(0.4 + 0.2 * f, "baking material", kind.name))
    base_color = values["base_color"]
    if image is not None:
        report = sub_progress(progress, 0.6, 0.85)
        picture = _cropped_to_mask(image.pixels)
        view = image.info.get("view", "front")
        camera = box_view(view, low, high, picture.shape[1], picture.shape[0])
        color, weight = bake.bake_views(texels, positions, triangles, [bake.View(camera, picture)],
                                        check=cancel.check, report=lambda f: report(f, "projecting image"))
        seen = weight > 1e-3
        info["image_coverage"] = round(float(seen.mean()), 4)
        progress(0.86, "filling unseen surface")
        base_color = bake.fill_unseen(color, seen, texels.points, check=cancel.check) if seen.any() else base_color
        info["source"] = f"image projected from the {view} view; unseen surface filled from the nearest seen colour"
    else:
        info["source"] = f"procedural {kind.name}"
    cancel.check()
    progress(0.9, "writing textures")
    textures = {"base_color": bake.to_rgba8(bake.dilate(texels.image(base_color), texels.mask))}
    if pbr:
        for channel in ("roughness", "metallic"):
            textures[channel] = bake.to_rgba8(bake.dilate(texels.image(values[channel]), texels.mask))
    material = Material(name=f"kiln_{kind.name}", base_color=(1.0, 1.0, 1.0, 1.0),
                        roughness=1.0 if pbr else float(values["roughness"].mean()),
                        metallic=1.0 if pbr else float(values["metallic"].mean()))
    out = dataclasses.replace(mesh, info={**mesh.info, "texture": info}, materials=[material],
                              part_materials=[0] * len(mesh.part_names), textures=textures)
    out.validate("mesh")
    progress(1.0, "done", info.get("material", "image"))
    return {"mesh": out}
