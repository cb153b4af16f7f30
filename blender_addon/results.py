"""Turn a finished job into scene objects where the user asked for it (main thread only)."""
from __future__ import annotations

import bpy
from mathutils import Matrix

from . import scene
from .jobs import JobContext
from .shared.payload import MeshPayload


def context_for(op: str, name: str, context, source: bpy.types.Object | None = None,
                keep_original: bool = True, parts_output: str = "OBJECTS", replaces: str = "") -> JobContext:
    """Capture scene, collection and placement now, so the result lands there later.

    A result made from ``source`` keeps its world transform; anything else lands at the 3D cursor.
    """
    if source is not None:
        matrix = source.matrix_world
    else:
        matrix = Matrix.Translation(context.scene.cursor.location)
    collection = context.collection or context.scene.collection
    return JobContext(op=op, name=name, scene=context.scene.name, view_layer=context.view_layer.name,
                      collection="" if collection == context.scene.collection else collection.name,
                      matrix=tuple(v for row in matrix for v in row), source=source.name if source else "",
                      keep_original=keep_original, parts_output=parts_output, replaces=replaces)


def outcome(payloads: dict) -> tuple[str, str]:
    """(summary, warning) the backend put in the result mesh's info; empty strings when absent."""
    mesh = payloads.get("mesh")
    info = mesh.info if isinstance(mesh, MeshPayload) and isinstance(mesh.info, dict) else {}
    summary, warning = info.get("summary"), info.get("warning")
    return (summary if isinstance(summary, str) else "", warning if isinstance(warning, str) else "")


def apply(ctx: JobContext, payloads: dict, push_undo: bool, job: str = "") -> list[str]:
    """Build the result's objects, select them, hide the source if asked; return the object names.

    ``push_undo`` makes the result its own undo step (when applied outside an operator). A parts
    result remembers its server ``job`` on its top object (the Parts panel re-splits from it);
    one that ``replaces`` an earlier result removes that result and takes its name.
    """
    mesh = payloads.get("mesh")
    if not isinstance(mesh, MeshPayload):
        raise scene.SceneError(f"the backend's {ctx.op} result has no mesh (outputs: {', '.join(payloads) or 'none'})")
    target_scene = bpy.data.scenes.get(ctx.scene) or bpy.context.scene
    view_layer = target_scene.view_layers.get(ctx.view_layer) or target_scene.view_layers[0]
    collection = bpy.data.collections.get(ctx.collection) if ctx.collection else None
    if collection is None or collection not in target_scene.collection.children_recursive:
        collection = target_scene.collection
    matrix = Matrix([ctx.matrix[i:i + 4] for i in range(0, 16, 4)]) if len(ctx.matrix) == 16 else None
    objects = scene.objects_from_payload(mesh, ctx.name, collection, matrix, ctx.parts_output)
    if ctx.op == "parts" and mesh.part_ids is not None:
        top = objects[0]
        top["kiln_parts_job"], top["kiln_parts_output"] = job, ctx.parts_output
        top["kiln_parts_count"] = len(mesh.part_names)
        info = mesh.info.get("parts", {}) if isinstance(mesh.info, dict) else {}
        top["kiln_parts_path"] = str(info.get("path", ""))
        old = bpy.data.objects.get(ctx.replaces) if ctx.replaces else None
        if old is not None and old not in objects:
            scene.remove_parts_result(old)
            top.name = ctx.replaces
            for child in top.children:  # made while the old parts held their names: take them now
                if "kiln_part" in child:
                    child.name = mesh.part_names[int(child["kiln_part"])] or f"part_{int(child['kiln_part'])}"
    view_layer.update()
    for obj in view_layer.objects.selected:
        obj.select_set(False, view_layer=view_layer)
    for obj in objects:
        obj.select_set(True, view_layer=view_layer)
    view_layer.objects.active = objects[0]
    source = bpy.data.objects.get(ctx.source) if ctx.source else None
    if source is not None and not ctx.keep_original and source.name in view_layer.objects:
        source.hide_set(True, view_layer=view_layer)
    if push_undo:
        bpy.ops.ed.undo_push(message=f"Kiln {ctx.op}: {ctx.name}")
    return [obj.name for obj in objects]
