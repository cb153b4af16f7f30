"""The "Kiln" tab of the 3D View sidebar. Controls the server does not offer are greyed with the reason."""
from __future__ import annotations

import bpy

from . import preferences, props, scene, session

STATE_ICONS = {"connected": "CHECKMARK", "connecting": "SORTTIME", "lost": "ERROR", "disconnected": "UNLINKED"}
JOB_ICONS = {"done": "CHECKMARK", "failed": "ERROR", "cancelled": "CANCEL", "running": "PLAY",
             "queued": "SORTTIME", "submitting": "EXPORT", "fetching": "IMPORT"}


class _KilnPanel:
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "Kiln"


def _op_column(layout, op: str):
    """A column for one op's controls, greyed (with the reason) when the server does not offer it."""
    ok, reason = session.get().op_support(op)
    if not ok:
        layout.box().label(text=reason[0].upper() + reason[1:], icon="INFO")
    col = layout.column()
    col.enabled = ok
    return col


def _params(col, settings, op: str, rows: list[tuple[str, str]]) -> None:
    """Draw (property, server parameter) rows; grey the ones the connected server lacks."""
    sess = session.get()
    ok, _ = sess.op_support(op)
    missing = []
    for prop, param in rows:
        row = col.row()
        if ok and param and sess.param_spec(op, param) is None:
            row.enabled = False
            missing.append(param)
        row.prop(settings, prop)
    if missing:
        col.label(text=f"Not offered by this server: {', '.join(missing)}", icon="INFO")


def model_license(settings) -> str:
    """The licence the server gives for the model chosen in ``settings.model`` ('' when unknown)."""
    sess = session.get()
    name = settings.model
    if name in ("", props.NO_CHOICE):
        name = (sess.param_spec("generate", "model") or {}).get("default")
    found = next((m for m in sess.models() if m.get("name") == name), {})
    return str(found.get("license") or "")


def _quality_param(op: str) -> str:
    sess = session.get()
    for name in ("quality", "steps", "resolution", "octree_resolution", "num_steps"):
        if sess.param_spec(op, name) is not None:
            return name
    return "quality"


class KILN_PT_connection(_KilnPanel, bpy.types.Panel):
    bl_label = "Connection"
    bl_idname = "KILN_PT_connection"

    def draw(self, context):
        layout = self.layout
        sess = session.get()
        prefs = preferences.get(context)
        row = layout.row()
        row.label(text=f"{sess.state.title()}: {prefs.address}", icon=STATE_ICONS.get(sess.state, "QUESTION"))
        if sess.welcome:
            col = layout.column(align=True)
            col.label(text=f"Server v{sess.welcome.get('version', '?')} on {sess.welcome.get('device', '?')}")
            names = [m["name"] for m in sess.models()]
            col.label(text=f"Models: {', '.join(names) if names else 'none'}")
            col.label(text=f"Ops: {', '.join(sorted(sess.welcome.get('ops') or {})) or 'none'}")
        if sess.message:
            box = layout.box()
            for line in _wrap(sess.message, 48)[:6]:
                box.label(text=line)
        row = layout.row(align=True)
        if sess.state in ("connected", "lost", "connecting"):
            row.operator("kiln.disconnect", icon="UNLINKED")
            row.operator("kiln.free_memory", text="", icon="TRASH")
        else:
            row.operator("kiln.connect", icon="LINKED")
        if prefs.start_local or sess.backend.running:
            row = layout.row(align=True)
            if sess.backend.running:
                row.operator("kiln.stop_backend", icon="X")
            else:
                row.operator("kiln.start_backend", icon="PLAY")
            row.operator("kiln.open_log", text="", icon="TEXT")


class KILN_PT_generate(_KilnPanel, bpy.types.Panel):
    bl_label = "Generate"
    bl_idname = "KILN_PT_generate"

    def draw(self, context):
        settings = context.scene.kiln
        col = _op_column(self.layout, "generate")
        col.prop(settings, "prompt", text="")
        col.template_ID(settings, "image", open="image.open")
        _params(col, settings, "generate", [("model", "model"), ("seed", "seed"),
                                            ("quality", _quality_param("generate")), ("texture", "texture")])
        licence = model_license(settings)
        if licence:
            box = col.box()
            for line in _wrap(f"Model license: {licence}", 48)[:4]:
                box.label(text=line, icon="FILE_TEXT" if line.startswith("Model license") else "NONE")
        col.operator("kiln.generate", icon="MESH_MONKEY")
        last = next((r for r in session.get().jobs if r.op == "generate" and r.state == "done" and r.summary), None)
        if last is not None:
            box = self.layout.box()
            box.label(text=f"Last: {last.summary}", icon="INFO")
            for i, line in enumerate(_wrap(last.warning, 44)[:4]):
                box.label(text=line, icon="ERROR" if i == 0 else "BLANK1")


class KILN_PT_retopo(_KilnPanel, bpy.types.Panel):
    bl_label = "Retopologize"
    bl_idname = "KILN_PT_retopo"

    def draw(self, context):
        settings = context.scene.kiln
        col = _op_column(self.layout, "retopo")
        _params(col, settings, "retopo", [("target_faces", "target_faces"), ("retopo_mode", "mode"),
                                          ("preserve_sharp", "preserve_sharp"), ("symmetry", "symmetry"),
                                          ("keep_original", "")])
        col.operator("kiln.retopo", icon="MOD_REMESH")


class KILN_PT_parts(_KilnPanel, bpy.types.Panel):
    bl_label = "Parts"
    bl_idname = "KILN_PT_parts"

    def draw(self, context):
        settings = context.scene.kiln
        col = _op_column(self.layout, "parts")
        col.prop(settings, "auto_parts")
        sub = col.column()
        sub.active = not settings.auto_parts
        _params(sub, settings, "parts", [("num_parts", "num_parts")])
        _params(col, settings, "parts", [("parts_method", "method"), ("parts_output", ""), ("keep_original", "")])
        col.operator("kiln.split_parts", icon="MOD_EXPLODE")
        top = scene.parts_result(context.active_object)
        if top is not None:
            _draw_parts_result(col.box(), context, top)


def _draw_parts_result(box, context, top) -> None:
    """The parts of a split by name (rename in place), merge buttons, fewer/more."""
    listed = scene.listed_parts(top)
    path = top.get("kiln_parts_path", "")
    box.label(text=f"{top.name}: {len(listed)} parts" + (f" ({path})" if path else ""), icon="OUTLINER_OB_GROUP_INSTANCE")
    active = _active_part(context, top)
    for index, thing in listed:
        row = box.row(align=True)
        row.prop(thing, "name", text="", icon="RADIOBUT_ON" if index == active else "RADIOBUT_OFF")
        if active is not None and index != active:
            merge = row.operator("kiln.resplit_parts", text="", icon="AUTOMERGE_ON")
            merge.change, merge.first, merge.second = "MERGE", active, index
    if active is None:
        box.label(text="Make a part active to merge others into it", icon="INFO")
    row = box.row(align=True)
    row.operator("kiln.resplit_parts", text="Fewer", icon="REMOVE").change = "FEWER"
    row.operator("kiln.resplit_parts", text="More", icon="ADD").change = "MORE"


def _active_part(context, top) -> int | None:
    """The part the user picked: the active child object, or the active vertex group."""
    if top.get("kiln_parts_output") == "GROUPS":
        return top.vertex_groups.active_index if len(top.vertex_groups) else None
    obj = context.active_object
    return int(obj["kiln_part"]) if obj is not None and obj.parent == top and "kiln_part" in obj else None


class KILN_PT_texture(_KilnPanel, bpy.types.Panel):
    bl_label = "Texture"
    bl_idname = "KILN_PT_texture"

    def draw(self, context):
        settings = context.scene.kiln
        col = _op_column(self.layout, "texture")
        col.prop(settings, "texture_prompt", text="")
        col.template_ID(settings, "texture_image", open="image.open")
        if settings.texture_image is not None:
            col.prop(settings, "texture_view")
        _params(col, settings, "texture", [("texture_model", "model"), ("texture_size", "resolution"), ("pbr", "pbr"),
                                           ("wear", "wear"), ("keep_original", "")])
        col.operator("kiln.texture", icon="TEXTURE")


class KILN_PT_jobs(_KilnPanel, bpy.types.Panel):
    bl_label = "Jobs"
    bl_idname = "KILN_PT_jobs"

    def draw_header(self, context):
        self.layout.operator("kiln.refresh_jobs", text="", icon="FILE_REFRESH", emboss=False)

    def draw(self, context):
        layout = self.layout
        jobs = list(session.get().jobs)
        if not jobs:
            layout.label(text="No jobs yet")
            return
        for record in jobs[:20]:
            box = layout.box()
            row = box.row(align=True)
            row.label(text=f"{record.op}: {record.label[:28]}", icon=JOB_ICONS.get(record.state, "QUESTION"))
            if record.active:
                row.operator("kiln.cancel", text="", icon="X").job = record.key
            else:
                if record.job and record.state == "done":
                    row.operator("kiln.reimport", text="", icon="IMPORT").job = record.job
                row.operator("kiln.remove_job", text="", icon="TRASH").job = record.key
            if record.active:
                box.progress(factor=max(0.0, min(1.0, record.fraction)), type="BAR",
                             text=f"{record.stage or record.state} {record.fraction:.0%}")
            elif record.message:
                for line in _wrap(record.message, 44)[:3]:
                    box.label(text=line)
                for line in _wrap(record.warning, 44)[:3]:
                    box.label(text=line, icon="ERROR")


def _wrap(text: str, width: int) -> list[str]:
    lines, line = [], ""
    for word in text.split():
        if line and len(line) + len(word) + 1 > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    return lines + ([line] if line else [])


classes = (KILN_PT_connection, KILN_PT_generate, KILN_PT_retopo, KILN_PT_parts, KILN_PT_texture, KILN_PT_jobs)
