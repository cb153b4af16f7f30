"""Real Blender (bpy 5.0.1) with the built Kiln extension installed as a user would install it.

Importing this module points Blender's user folders at a temporary directory *before* bpy is
imported (one process may import bpy only once), so tests never touch the real user config.
"""
from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if "bpy" in sys.modules and "BLENDER_USER_RESOURCES" not in os.environ:
    raise RuntimeError("bpy was imported before tests/addon_helpers/blender.py could isolate Blender's user folders")
# pymeshlab and coacd bundle their own Embree / C++ runtimes: once either is loaded, bpy fails to
# import (undefined symbol rtcGetSceneTraversable, or an abort). bpy loaded first is fine, which is
# why the add-on tests are named test_addon_* (collected before every other test file).
_CLASHING = sorted(m for m in ("pymeshlab", "coacd") if m in sys.modules and "bpy" not in sys.modules)
if _CLASHING:
    raise RuntimeError(f"{', '.join(_CLASHING)} was imported before bpy, and bpy cannot load after it; "
                       "run the add-on tests first or on their own (pytest tests/test_addon_*.py)")
USER_RESOURCES = Path(os.environ.setdefault("BLENDER_USER_RESOURCES", tempfile.mkdtemp(prefix="kiln-blender-user-")))
atexit.register(shutil.rmtree, USER_RESOURCES, True)

import bpy  # noqa: E402
import addon_utils  # noqa: E402  (importable once bpy is)

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
import build  # noqa: E402

MODULE = "bl_ext.user_default.kiln"
_built: dict[str, Path] = {}


def built_zip() -> Path:
    """Build the extension for this platform once per test session (wheels from build/wheels or PyPI)."""
    if "zip" not in _built:
        out = Path(tempfile.mkdtemp(prefix="kiln-dist-"))
        atexit.register(shutil.rmtree, out, True)
        _built["zip"] = build.build([build.current_platform()], out, ROOT / "build" / "wheels", blender=None)[0]
    return _built["zip"]


def install() -> str:
    """Install the built zip with Blender's own operator (once) and enable it; returns the module name."""
    if MODULE not in bpy.context.preferences.addons:
        if not (USER_RESOURCES / "extensions" / "user_default" / "kiln").exists():
            result = bpy.ops.extensions.package_install_files(filepath=str(built_zip()), repo="user_default",
                                                               enable_on_install=True)
            assert result == {"FINISHED"}, result
        else:
            addon_utils.enable(MODULE, default_set=True, handle_error=_raise)
    assert MODULE in bpy.context.preferences.addons
    return MODULE


def _raise(exc):
    raise exc


def kiln():
    """The installed add-on package (``bl_ext.user_default.kiln``)."""
    return sys.modules[MODULE]


def fresh(address: str = "", timeout: float = 10.0):
    """Factory-reset Blender (empty scene), re-enable Kiln and point it at ``address``; returns prefs."""
    bpy.ops.wm.read_factory_settings(use_empty=True)
    install()
    prefs = bpy.context.preferences.addons[MODULE].preferences
    if address:
        prefs.address = address
    prefs.timeout = timeout
    return prefs
