"""Payloads <-> Blender data: meshes (polygons, UVs), parts as named objects, PBR materials.

Everything here touches bpy data and must run on Blender's main thread. Building a result is
all-or-nothing: if anything fails half-way, every data-block made so far is removed again.
"""
from __future__ import annotations

import colorsys

import bpy
import numpy as np

from .shared.payload import ImagePayload, Material, MeshPayload

UV_LAYER = "UVMap"
COLOR_SLOTS = {"base_color": "sRGB", "roughness": "Non-Color", "metallic": "Non-Color", "normal": "Non-Color"}


class SceneError(Exception):
    """Blender data could not be read or written; the message says what to fix."""


# ------------------------------------------------------------------------------------------
# Payload -> Blender

class _Created:
    """Tracks new data-blocks so a failed build can remove them all."""

    def __init__(self) -> None:
        self.items: list[tuple[object, object]] = []

    def add(self, collection, block):
        self.items.append((collection, block))
        return block

    def discard(self) -> None:
        for collection, block in reversed(self.items):
            try:
                collection.remove(block)
            except ReferenceError:
                pass
        self.items.clear()


def mesh_from_arrays(name: str, positions: np.ndarray, face_sizes: np.ndarray, face_indices: np.ndarray,
                     corner_uvs: np.ndarray | None = None) -> bpy.types.Mesh:
    """A new mesh from validated polygon arrays, written with ``foreach_set`` (no Python loops)."""
    mesh = bpy.data.meshes.new(name)
    try:
        # The generic attribute arrays (Blender 4.0+) take bulk writes much faster than
        # vertices["co"] / loops["vertex_index"].
        mesh.vertices.add(len(positions))
        mesh.attributes["position"].data.foreach_set("vector", np.ascontiguousarray(positions, np.float32).ravel())
        mesh.loops.add(len(face_indices))
        mesh.attributes[".corner_vert"].data.foreach_set("value", np.ascontiguousarray(face_indices, np.int32))
        mesh.polygons.add(len(face_sizes))
        starts = np.zeros(len(face_sizes), dtype=np.int32)
        np.cumsum(face_sizes[:-1], out=starts[1:])
        mesh.polygons.foreach_set("loop_start", starts)
        if corner_uvs is not None:
            layer = mesh.uv_layers.new(name=UV_LAYER)
            layer.uv.foreach_set("vector", np.ascontiguousarray(corner_uvs, dtype=np.float32).ravel())
        mesh.update(calc_edges=True)
    except Exception:
        bpy.data.meshes.remove(mesh)
        raise
    return mesh


def _part_slices(payload: MeshPayload):
    """Yield (part index, positions, face_sizes, face_indices, corner_uvs) for every non-empty part."""
    sizes = payload.face_sizes
    starts = payload.face_offsets()[:-1]
    order = np.argsort(payload.part_ids, kind="stable")
    bounds = np.searchsorted(payload.part_ids[order], np.arange(len(payload.part_names) + 1))
    for part in range(len(payload.part_names)):
        faces = order[bounds[part]:bounds[part + 1]]
        if len(faces) == 0:
            continue
        part_sizes = sizes[faces]
        first = np.repeat(starts[faces], part_sizes)
        within = np.arange(len(first)) - np.repeat(np.cumsum(part_sizes) - part_sizes, part_sizes)
        corners = first + within
        used, local = np.unique(payload.face_indices[corners], return_inverse=True)
        uvs = payload.corner_uvs[corners] if payload.corner_uvs is not None else None
        yield (part, payload.positions[used], part_sizes.astype(np.int32), local.astype(np.int32).ravel(), uvs)


def image_from_pixels(name: str, pixels: np.ndarray, colorspace: str = "sRGB") -> bpy.types.Image:
    """A packed image from uint8 RGBA pixels (row 0 at the top, as on the wire)."""
    height, width = pixels.shape[:2]
    image = bpy.data.images.new(name, width, height, alpha=True)
    try:
        image.colorspace_settings.name = colorspace
        flat = np.flipud(pixels).astype(np.float32).ravel() / 255.0
        image.pixels.foreach_set(flat)
        image.update()
        image.pack()
    except Exception:
        bpy.data.images.remove(image)
        raise
    return image


def material_from_payload(name: str, material: Material, textures: dict[str, np.ndarray],
                          created: _Created) -> bpy.types.Material:
    """A Principled BSDF material from factors, with texture images wired in and packed."""
    mat = created.add(bpy.data.materials, bpy.data.materials.new(name))
    if mat.node_tree is None:  # Blender < 5.0 creates materials without nodes
        mat.use_nodes = True
    nodes, links = mat.node_tree.nodes, mat.node_tree.links
    bsdf = next(n for n in nodes if n.type == "BSDF_PRINCIPLED")
    bsdf.inputs["Base Color"].default_value = tuple(material.base_color)
    bsdf.inputs["Alpha"].default_value = float(material.base_color[3])
    bsdf.inputs["Roughness"].default_value = float(material.roughness)
    bsdf.inputs["Metallic"].default_value = float(material.metallic)
    mat.diffuse_color = tuple(material.base_color)
    mat.roughness = float(material.roughness)
    mat.metallic = float(material.metallic)
    for row, slot in enumerate(s for s in COLOR_SLOTS if s in textures):
        image = created.add(bpy.data.images,
                            image_from_pixels(f"{name}_{slot}", textures[slot], COLOR_SLOTS[slot]))
        node = nodes.new("ShaderNodeTexImage")
        node.image = image
        node.label = slot.replace("_", " ").title()
        node.location = (bsdf.location.x - 500, bsdf.location.y - 280 * row)
        if slot == "base_color":
            links.new(node.outputs["Color"], bsdf.inputs["Base Color"])
        elif slot == "normal":
            normal_map = nodes.new("ShaderNodeNormalMap")
            normal_map.location = (bsdf.location.x - 220, node.location.y)
            links.new(node.outputs["Color"], normal_map.inputs["Color"])
            links.new(normal_map.outputs["Normal"], bsdf.inputs["Normal"])
        else:
            links.new(node.outputs["Color"], bsdf.inputs[slot.title()])
    return mat


def _materials(payload: MeshPayload, name: str, created: _Created) -> list[bpy.types.Material]:
    mats = []
    for i, material in enumerate(payload.materials):
        textures = payload.textures if i == 0 else {}
        mats.append(material_from_payload(f"{name}_{material.name or i}", material, textures, created))
    if not mats and payload.textures:
        mats.append(material_from_payload(f"{name}_material", Material(name=f"{name}_material"),
                                          payload.textures, created))
    return mats


def part_color(index: int) -> tuple[float, float, float, float]:
    """A distinct viewport colour per part (golden-ratio hues)."""
    r, g, b = colorsys.hsv_to_rgb((0.13 + index * 0.618034) % 1.0, 0.55, 0.9)
    return (r, g, b, 1.0)


def _grouped_object(payload: MeshPayload, name: str, created: _Created) -> bpy.types.Object:
    """One mesh object with a vertex group and a material slot (own colour) per part."""
    mesh = created.add(bpy.data.meshes, mesh_from_arrays(
        name, payload.positions, payload.face_sizes, payload.face_indices, payload.corner_uvs))
    obj = created.add(bpy.data.objects, bpy.data.objects.new(name, mesh))
    corner_part = np.repeat(payload.part_ids, payload.face_sizes)
    for part, part_name in enumerate(payload.part_names):
        part_name = part_name or f"part_{part}"
        group = obj.vertex_groups.new(name=part_name)
        group.add(np.unique(payload.face_indices[corner_part == part]).tolist(), 1.0, "REPLACE")
        material = created.add(bpy.data.materials, bpy.data.materials.new(f"{name}_{part_name}"))
        material.diffuse_color = part_color(part)
        mesh.materials.append(material)
    mesh.polygons.foreach_set("material_index", payload.part_ids.astype(np.int32))
    mesh.update()
    return obj


def objects_from_payload(payload: MeshPayload, name: str, collection: bpy.types.Collection,
                         matrix=None, parts_output: str = "OBJECTS") -> list[bpy.types.Object]:
    """Build the payload as scene objects in ``collection``; return [top object, children...].

    A payload with ``part_ids`` becomes one empty named ``name`` with one child mesh object per
    part, named by its part name (``child["kiln_part"]`` = part index); with ``parts_output``
    "GROUPS" it becomes one object with a vertex group and a material slot per part instead.
    ``matrix`` (a 4x4 world matrix) places the top object. Nothing is left behind if this raises.
    """
    payload.validate(name)
    created = _Created()
    try:
        materials = _materials(payload, name, created)
        if payload.part_ids is None or not payload.part_names:
            mesh = created.add(bpy.data.meshes, mesh_from_arrays(
                name, payload.positions, payload.face_sizes, payload.face_indices, payload.corner_uvs))
            if materials:
                mesh.materials.append(materials[0])
            top = created.add(bpy.data.objects, bpy.data.objects.new(name, mesh))
            result = [top]
        elif parts_output == "GROUPS":
            top = _grouped_object(payload, name, created)
            result = [top]
        else:
            top = created.add(bpy.data.objects, bpy.data.objects.new(name, None))
            top.empty_display_type = "PLAIN_AXES"
            result = [top]
            for part, *arrays in _part_slices(payload):
                part_name = payload.part_names[part] or f"part_{part}"
                mesh = created.add(bpy.data.meshes, mesh_from_arrays(part_name, *arrays))
                index = payload.part_materials[part] if part < len(payload.part_materials) else 0
                if materials:
                    mesh.materials.append(materials[min(index, len(materials) - 1)])
                child = created.add(bpy.data.objects, bpy.data.objects.new(part_name, mesh))
                child["kiln_part"] = part
                child.parent = top
                result.append(child)
        if matrix is not None:
            top.matrix_world = matrix
        for obj in result:
            collection.objects.link(obj)
    except Exception:
        created.discard()
        raise
    return result


def remove_parts_result(top: bpy.types.Object) -> None:
    """Delete a parts result: its top object, its part objects, and meshes/materials only they used."""
    for obj in [*top.children, top]:
        data = obj.data
        slots = [s.material for s in obj.material_slots if s.material] if data is not None else []
        bpy.data.objects.remove(obj)
        if data is not None and data.users == 0:
            bpy.data.meshes.remove(data)
        for material in slots:
            if material.users == 0:
                bpy.data.materials.remove(material)


def parts_result(obj: bpy.types.Object | None) -> bpy.types.Object | None:
    """The parts result ``obj`` belongs to (itself or its parent), or None."""
    for candidate in (obj, obj.parent if obj is not None else None):
        if candidate is not None and candidate.get("kiln_parts_job"):
            return candidate
    return None


def listed_parts(top: bpy.types.Object) -> list[tuple[int, object]]:
    """(part index, the named thing: child object or vertex group) of a parts result, in part order."""
    if top.get("kiln_parts_output") == "GROUPS":
        return [(g.index, g) for g in top.vertex_groups]
    return sorted(((int(c["kiln_part"]), c) for c in top.children if "kiln_part" in c), key=lambda t: t[0])


# ------------------------------------------------------------------------------------------
# Blender -> payload

def payload_from_object(obj: bpy.types.Object, depsgraph) -> MeshPayload:
    """The object's evaluated mesh (modifiers applied) in its local space, with the active UVs."""
    if obj is None or obj.type != "MESH":
        raise SceneError("select a mesh object first (the active object is not a mesh)")
    if obj.mode == "EDIT":
        obj.update_from_editmode()
    evaluated = obj.evaluated_get(depsgraph)
    mesh = evaluated.to_mesh()
    try:
        if len(mesh.polygons) == 0:
            raise SceneError(f"'{obj.name}' has no faces after its modifiers; nothing to send")
        positions = np.empty(len(mesh.vertices) * 3, dtype=np.float32)
        mesh.attributes["position"].data.foreach_get("vector", positions)
        sizes = np.empty(len(mesh.polygons), dtype=np.int32)
        mesh.polygons.foreach_get("loop_total", sizes)
        indices = np.empty(len(mesh.loops), dtype=np.int32)
        mesh.attributes[".corner_vert"].data.foreach_get("value", indices)
        uvs = None
        layer = mesh.uv_layers.active
        if layer is not None:
            uvs = np.empty(len(mesh.loops) * 2, dtype=np.float32)
            layer.uv.foreach_get("vector", uvs)
            uvs = uvs.reshape(-1, 2)
    finally:
        evaluated.to_mesh_clear()
    payload = MeshPayload(positions=positions.reshape(-1, 3), face_sizes=sizes, face_indices=indices,
                          corner_uvs=uvs)
    if not np.isfinite(payload.positions).all():
        raise SceneError(f"'{obj.name}' has vertices at NaN or infinite positions; fix them first")
    return payload


def image_payload(image: bpy.types.Image) -> ImagePayload:
    """An RGBA uint8 payload (row 0 at the top) from a Blender image."""
    width, height = image.size
    if width == 0 or height == 0:
        raise SceneError(f"image '{image.name}' has no pixels (is its file missing?)")
    pixels = np.empty(width * height * image.channels, dtype=np.float32)
    image.pixels.foreach_get(pixels)
    pixels = pixels.reshape(height, width, image.channels)
    if image.channels != 4:
        rgba = np.ones((height, width, 4), dtype=np.float32)
        rgba[..., :min(3, image.channels)] = pixels[..., :3]
        if image.channels < 3:
            rgba[..., 1:3] = pixels[..., :1]
        pixels = rgba
    data = np.clip(np.round(np.flipud(pixels) * 255.0), 0, 255).astype(np.uint8)
    return ImagePayload(np.ascontiguousarray(data))
