"""Kiln entries in the 3D View's Object menu and the object context (right-click) menu."""
from __future__ import annotations

import bpy


class KILN_MT_object(bpy.types.Menu):
    """Kiln ops on the active object, with the settings from the Kiln sidebar tab"""

    bl_idname = "KILN_MT_object"
    bl_label = "Kiln"

    def draw(self, context):
        layout = self.layout
        layout.operator("kiln.retopo", icon="MOD_REMESH")
        layout.operator("kiln.split_parts", icon="MOD_EXPLODE")
        layout.operator("kiln.texture", icon="TEXTURE")


def _draw_entry(self, context):
    self.layout.separator()
    self.layout.menu(KILN_MT_object.bl_idname, icon="MESH_MONKEY")


classes = (KILN_MT_object,)
MENUS = ("VIEW3D_MT_object", "VIEW3D_MT_object_context_menu")


def register() -> None:
    for name in MENUS:
        getattr(bpy.types, name).append(_draw_entry)


def unregister() -> None:
    for name in MENUS:
        getattr(bpy.types, name).remove(_draw_entry)
