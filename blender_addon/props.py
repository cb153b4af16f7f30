"""Per-scene settings of the Kiln panels (saved with the .blend)."""
from __future__ import annotations

import bpy
from bpy.props import BoolProperty, EnumProperty, FloatProperty, IntProperty, PointerProperty, StringProperty

from . import session

NO_CHOICE = "__server_default__"
_enum_cache: dict[str, list] = {}   # Blender needs dynamic enum items kept alive on the Python side


def _cached(key: str, items: list) -> list:
    _enum_cache[key] = items or [(NO_CHOICE, "Server Default", "Connect to a backend to list the choices")]
    return _enum_cache[key]


def _model_items(self, context):
    sess = session.get()
    spec = sess.param_spec("generate", "model") or {}
    described = {m["name"]: m for m in sess.models()}
    names = [str(c) for c in spec.get("choices", [])] or [
        name for name, m in described.items() if m.get("capability", "shape") == "shape"]
    return _cached("model", [(NO_CHOICE, "Server Default", "The backend's default model")] + [
        (n, n, _model_tooltip(n, described.get(n, {}))) for n in names])


def _model_tooltip(name: str, described: dict) -> str:
    """A model's card summary (or description) and its licence, as the server describes them."""
    text = str(described.get("summary") or described.get("description") or name)
    return f"{text.rstrip('.')}. License: {described['license']}." if described.get("license") else text


def _texture_model_items(self, context):
    spec = session.get().param_spec("texture", "model") or {}
    described = {m["name"]: m for m in session.get().models()}
    return _cached("texture.model", [(NO_CHOICE, "Server Default", "Per-part procedural materials (CPU)")] + [
        (str(c), str(c), str(described.get(str(c), {}).get("description") or c)) for c in spec.get("choices", [])])


def _choice_items(op: str, param: str):
    def items(self, context):
        spec = session.get().param_spec(op, param) or {}
        return _cached(f"{op}.{param}", [(str(c), str(c).replace("_", " ").title(), f"{param} = {c}")
                                         for c in spec.get("choices", [])])
    return items


QUALITY = [("DRAFT", "Draft", "Fastest: coarse mesh, few sampling steps"),
           ("STANDARD", "Standard", "Balanced speed and detail"),
           ("HIGH", "High", "Finest mesh and most sampling steps; slowest")]
RETOPO_MODES = [("quad", "Quad", "Quad-dominant remesh with clean edge flow"),
                ("lowpoly", "Low Poly", "Decimate and pair into a quad-dominant game-ready mesh, never over the face count"),
                ("tri", "Triangles", "Isotropic triangle remesh"),
                ("artist", "Artist (learned)", "A learned artist-style quad-dominant low-poly mesh for small face "
                 "counts (a few hundred); falls back to Low Poly above that or when the model's mesh fails a check")]
PARTS_OUTPUT = [("OBJECTS", "Objects", "One named object per part under one parent"),
                ("GROUPS", "Vertex Groups", "One object: a named vertex group and a material slot per part")]
SYMMETRY = [("NONE", "None", "No symmetry"), ("X", "X", "Mirror across X"), ("Y", "Y", "Mirror across Y"),
            ("Z", "Z", "Mirror across Z")]
VIEWS = [(v.upper(), v.title(), f"The image shows the object as Blender's {v.title()} view does")
         for v in ("front", "back", "left", "right", "top", "bottom")]
TEXTURE_SIZES = [("512", "512", "512 x 512 pixels"), ("1024", "1024", "1024 x 1024 pixels"),
                 ("2048", "2048", "2048 x 2048 pixels"), ("4096", "4096", "4096 x 4096 pixels")]


class KilnSceneSettings(bpy.types.PropertyGroup):
    # Generate
    prompt: StringProperty(name="Prompt", default="",
                           description="What to make, e.g. 'a wooden chair with curved legs'")
    image: PointerProperty(name="Image", type=bpy.types.Image,
                           description="Optional reference image: the shape follows its silhouette")
    model: EnumProperty(name="Model", items=_model_items,
                        description="Which of the backend's models generates the shape")
    seed: IntProperty(name="Seed", default=0, min=0, description="Same prompt and seed give the same result")
    quality: EnumProperty(name="Quality", items=QUALITY, default="STANDARD",
                          description="Trade speed for detail")
    texture: BoolProperty(name="Texture", default=True, description="Also make a material for the new object")
    # Retopologize
    target_faces: IntProperty(name="Target Faces", default=5000, min=4, max=2_000_000, soft_max=100_000,
                              description="About how many faces the new mesh should have")
    retopo_mode: EnumProperty(name="Mode", items=RETOPO_MODES, default="quad",
                              description="The kind of mesh to make")
    preserve_sharp: BoolProperty(name="Preserve Sharp Edges", default=True,
                                 description="Keep hard edges and corners where they are")
    symmetry: EnumProperty(name="Symmetry", items=SYMMETRY, default="NONE",
                           description="Make the new topology symmetric across an axis (object space)")
    # Parts
    auto_parts: BoolProperty(name="Automatic", default=True,
                             description="Let the backend decide how many parts the object has")
    num_parts: IntProperty(name="Parts", default=4, min=2, max=256, description="How many parts to split into")
    parts_method: EnumProperty(name="Method", items=_choice_items("parts", "method"),
                               description="How the backend finds the parts")
    parts_output: EnumProperty(name="Result", items=PARTS_OUTPUT, default="OBJECTS",
                               description="How the parts arrive in the scene")
    # Texture
    texture_prompt: StringProperty(name="Prompt", default="",
                                   description="What the surface should look like, e.g. 'weathered oak'")
    texture_image: PointerProperty(name="Image", type=bpy.types.Image,
                                   description="Optional reference image for the colours")
    texture_view: EnumProperty(name="Image View", items=VIEWS, default="FRONT",
                               description="Which side of the object the reference image shows")
    texture_size: EnumProperty(name="Resolution", items=TEXTURE_SIZES, default="1024",
                               description="Size of the texture images")
    pbr: BoolProperty(name="PBR Maps", default=True, description="Also make roughness, metallic and normal maps")
    texture_model: EnumProperty(name="Model", items=_texture_model_items,
                                description="Procedural per-part materials, or a diffusion model folder "
                                            "the backend found in its models folder")
    wear: FloatProperty(name="Wear", default=0.5, min=0.0, max=1.0,
                        description="Edge wear and dirt (procedural materials)")
    # Shared by retopo, parts and texture
    keep_original: BoolProperty(name="Keep Original", default=True,
                                description="Leave the source object visible; off hides it (never deletes it)")


classes = (KilnSceneSettings,)


def register() -> None:
    bpy.types.Scene.kiln = PointerProperty(type=KilnSceneSettings)


def unregister() -> None:
    del bpy.types.Scene.kiln
    _enum_cache.clear()
