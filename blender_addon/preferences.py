"""Add-on preferences: where the backend is, how to start a local one, timeouts, CURVE keys."""
from __future__ import annotations

import socket
from pathlib import Path

import bpy
from bpy.props import BoolProperty, FloatProperty, StringProperty

from .connection import Settings
from .shared.protocol import DEFAULT_ADDRESS

DEFAULT_ARGUMENTS = "-m backend serve --bind {address} --store {store}"


def addon_id() -> str:
    return __package__


def get(context=None) -> "KilnPreferences":
    context = context or bpy.context
    return context.preferences.addons[addon_id()].preferences


def user_dir(*parts: str) -> Path:
    """A folder of the add-on's own (log, job store of the local backend), created on demand."""
    path = Path(bpy.utils.extension_path_user(addon_id(), path="/".join(parts), create=True))
    return path


class KilnPreferences(bpy.types.AddonPreferences):
    bl_idname = __package__

    address: StringProperty(
        name="Backend Address", default=DEFAULT_ADDRESS,
        description="ZeroMQ address of the Kiln backend, e.g. tcp://127.0.0.1:5555 or tcp://gpu-box:5555")
    timeout: FloatProperty(
        name="Request Timeout (s)", default=10.0, min=0.5, max=600.0,
        description="Seconds to wait for the backend to answer a request before reporting it unreachable")
    curve_keys_dir: StringProperty(
        name="CURVE Keys", subtype="DIR_PATH", default="",
        description="Folder with the CURVE keys for an encrypted remote backend (server public key and this "
                    "client's key pair). Leave empty for a local backend")
    start_local: BoolProperty(
        name="Start a Local Backend", default=False,
        description="Start the backend as a child process of Blender when connecting, and stop it when Blender quits")
    backend_python: StringProperty(
        name="Backend Python", subtype="FILE_PATH", default="",
        description="The Python interpreter that has Kiln's backend installed (e.g. <kiln>/.venv/bin/python)")
    backend_arguments: StringProperty(
        name="Arguments", default=DEFAULT_ARGUMENTS,
        description="Arguments for the backend Python; {address} and {store} are filled in")
    backend_workdir: StringProperty(
        name="Working Folder", subtype="DIR_PATH", default="",
        description="Folder to start the backend in (your Kiln checkout, if the backend is not pip-installed)")

    def settings(self) -> Settings:
        """Connection settings for the client thread."""
        return Settings(address=self.address.strip(), timeout=float(self.timeout),
                        curve_dir=bpy.path.abspath(self.curve_keys_dir) if self.curve_keys_dir else "",
                        client_name=f"blender@{socket.gethostname()}")

    def draw(self, context):
        layout = self.layout
        layout.use_property_split = True
        col = layout.column(heading="Connection")
        col.prop(self, "address")
        col.prop(self, "timeout")
        col.prop(self, "curve_keys_dir")
        col = layout.column(heading="Local Backend")
        col.prop(self, "start_local")
        sub = col.column()
        sub.active = self.start_local
        sub.prop(self, "backend_python")
        sub.prop(self, "backend_arguments")
        sub.prop(self, "backend_workdir")
        sub.label(text=f"Log: {user_dir('logs') / 'backend.log'}", icon="TEXT")


classes = (KilnPreferences,)
