"""Kiln for Blender: generate, retopologize, split and texture assets with a Kiln backend.

Registration only; see session.py (state), connection.py (client thread), scene.py (bpy data).
"""
from __future__ import annotations

import atexit

import bpy

from . import menus, operators, panels, preferences, props, session

_CLASSES = (*preferences.classes, *props.classes, *operators.classes, *panels.classes, *menus.classes)


def register() -> None:
    for cls in _CLASSES:
        bpy.utils.register_class(cls)
    props.register()
    menus.register()
    bpy.app.timers.register(session.tick, first_interval=session.TICK_IDLE_S, persistent=True)
    atexit.register(session.drop)


def unregister() -> None:
    atexit.unregister(session.drop)
    if bpy.app.timers.is_registered(session.tick):
        bpy.app.timers.unregister(session.tick)
    session.drop()
    menus.unregister()
    props.unregister()
    for cls in reversed(_CLASSES):
        bpy.utils.unregister_class(cls)
