"""A stand-in for ``bpy.types.UILayout`` that checks every call against Blender's own RNA metadata.

Panels only draw inside a window region, which headless Blender never has. This layout lets a
test run a panel's ``draw`` anyway: each method must exist on the real UILayout, each keyword must
be one of its real parameters, icons must be real icons, ``prop`` names must be real properties
of the data, and operators must be registered with the properties that get set on them.
"""
from __future__ import annotations

from types import SimpleNamespace

import bpy

_FUNCTIONS = bpy.types.UILayout.bl_rna.functions
_ICONS = {i.identifier for i in _FUNCTIONS["label"].parameters["icon"].enum_items}
_ATTRIBUTES = {p.identifier for p in bpy.types.UILayout.bl_rna.properties}


class LayoutError(AssertionError):
    pass


class _OperatorProps:
    def __init__(self, idname: str, names: set[str], record: list):
        object.__setattr__(self, "_idname", idname)
        object.__setattr__(self, "_names", names)
        object.__setattr__(self, "_record", record)

    def __setattr__(self, name, value):
        if name not in self._names:
            raise LayoutError(f"operator {self._idname} has no property {name!r}")
        self._record.append(("set", self._idname, name, value))


class CheckingLayout:
    """Records what a panel draws: ``calls`` holds (method, summary) tuples, nested layouts included."""

    def __init__(self, calls: list | None = None, enabled: bool = True):
        object.__setattr__(self, "calls", [] if calls is None else calls)
        object.__setattr__(self, "_enabled", enabled)

    def __setattr__(self, name, value):
        if name not in _ATTRIBUTES:
            raise LayoutError(f"UILayout has no attribute {name!r}")
        if name == "enabled":
            object.__setattr__(self, "_enabled", self._enabled and bool(value))
        object.__setattr__(self, name, value)

    def _check(self, method: str, kwargs: dict) -> None:
        if method not in _FUNCTIONS:
            raise LayoutError(f"UILayout has no method {method!r}")
        params = {p.identifier for p in _FUNCTIONS[method].parameters}
        unknown = set(kwargs) - params
        if unknown:
            raise LayoutError(f"UILayout.{method} has no parameter(s) {sorted(unknown)}")
        icon = kwargs.get("icon")
        if icon is not None and icon not in _ICONS:
            raise LayoutError(f"unknown icon {icon!r}")

    def _child(self, method: str, kwargs: dict) -> "CheckingLayout":
        self._check(method, kwargs)
        self.calls.append((method, ""))
        return CheckingLayout(self.calls, self._enabled)

    def row(self, **kwargs):
        return self._child("row", kwargs)

    def column(self, **kwargs):
        return self._child("column", kwargs)

    def box(self, **kwargs):
        return self._child("box", kwargs)

    def label(self, **kwargs):
        self._check("label", kwargs)
        self.calls.append(("label", kwargs.get("text", "")))

    def separator(self, **kwargs):
        self._check("separator", kwargs)

    def progress(self, **kwargs):
        self._check("progress", kwargs)
        if not 0.0 <= kwargs.get("factor", 0.0) <= 1.0:
            raise LayoutError(f"progress factor {kwargs.get('factor')} outside 0..1")
        self.calls.append(("progress", kwargs.get("text", "")))

    def prop(self, data, property, **kwargs):
        self._check("prop", kwargs)
        if property not in data.bl_rna.properties:
            raise LayoutError(f"{data!r} has no property {property!r}")
        getattr(data, property)  # runs dynamic enum callbacks like Blender would
        self.calls.append(("prop", property if self._enabled else f"{property} (greyed)"))

    def menu(self, menu, **kwargs):
        self._check("menu", kwargs)
        if not hasattr(bpy.types, menu):
            raise LayoutError(f"menu {menu} is not registered")
        self.calls.append(("menu", menu))

    def template_ID(self, data, property, **kwargs):
        self._check("template_ID", kwargs)
        if property not in data.bl_rna.properties:
            raise LayoutError(f"{data!r} has no property {property!r}")
        self.calls.append(("template_ID", property))

    def operator(self, operator, **kwargs):
        self._check("operator", kwargs)
        module, name = operator.split(".")
        op = getattr(getattr(bpy.ops, module), name)
        try:
            rna = op.get_rna_type()
        except KeyError:
            raise LayoutError(f"operator {operator} is not registered") from None
        self.calls.append(("operator", operator if self._enabled else f"{operator} (greyed)"))
        return _OperatorProps(operator, {p.identifier for p in rna.properties}, self.calls)


def draw(panel_cls, context) -> list:
    """Run a panel's ``draw_header`` and ``draw`` on checking layouts; return the recorded calls."""
    calls: list = []
    for method in ("draw_header", "draw"):
        if hasattr(panel_cls, method):
            getattr(panel_cls, method)(SimpleNamespace(layout=CheckingLayout(calls)), context)
    return calls
