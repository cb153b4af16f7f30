"""The texture op: prompt-only procedural materials, image projection, UVs, errors, cancel."""
from __future__ import annotations

import numpy as np
import pytest

from backend.geometry.material_fields import MATERIALS
from backend.ops import texture
from backend.runtime import CancelToken, Cancelled, OpError
from shared.payload import ImagePayload, MeshPayload
from tests import mesh_corpus


def run_texture(inputs, progress=None, cancel=None, **params):
    params = {"prompt": "", "resolution": 128, "pbr": True, **params}
    return texture.run(inputs, params, progress or (lambda *a: None), cancel or CancelToken())["mesh"]


def test_prompt_picks_wood_and_bakes_pbr_textures():
    mesh = mesh_corpus.load("cube")
    out = run_texture({"mesh": mesh}, prompt="an old oak table", resolution=256)
    out.validate("mesh")
    info = out.info["texture"]
    assert [c["material"] for c in info["materials"]] == ["wood"] and "'oak' -> wood" in info["materials"][0]["why"]
    assert set(out.textures) == {"base_color", "roughness", "metallic", "normal"}
    assert all(t.shape == (256, 256, 4) for t in out.textures.values())
    assert out.corner_uvs.shape == (len(out.face_indices), 2)
    assert out.face_sizes.tolist() == [4] * 6  # the cube's quads survive the unwrap
    rgb = out.textures["base_color"][..., :3].astype(float)
    assert rgb.sum(-1).min() > 0  # no black holes, gutters included
    assert rgb.std() > 3  # a pattern, not a flat colour
    assert out.textures["metallic"][..., 0].max() == 0  # wood is not metal


@pytest.mark.parametrize("prompt,expected", [("shiny golden crown", "gold"), ("a marble statue", "marble"),
                                             ("brick house", "brick"), ("car tire", "rubber")])
def test_prompt_to_material(prompt, expected):
    from backend.models.material_choice import choose_material

    assert choose_material(prompt)[0].name == expected


def test_every_material_field_is_finite_and_in_range():
    rng = np.random.default_rng(0)
    points = rng.uniform(-0.5, 0.5, (2000, 3))
    normals = rng.normal(size=(2000, 3))
    normals /= np.linalg.norm(normals, axis=1, keepdims=True)
    for kind in MATERIALS:
        values = kind.make(None, 0)(points, normals)
        for channel, array in values.items():
            assert np.isfinite(array).all() and array.min() >= 0 and array.max() <= 1, (kind.name, channel)


def test_colour_word_tints_the_material():
    mesh = mesh_corpus.load("uv_sphere")
    out = run_texture({"mesh": mesh}, prompt="red plastic toy")
    rgb = out.textures["base_color"][..., :3].reshape(-1, 3).astype(float).mean(0)
    assert out.info["texture"]["materials"][0]["color"] == "red" and rgb[0] > 2 * rgb[1]


def test_existing_uvs_are_kept():
    mesh = mesh_corpus.load("uv_sphere")
    first = run_texture({"mesh": mesh}, prompt="stone")
    again = run_texture({"mesh": first}, prompt="stone", pbr=False)
    np.testing.assert_array_equal(again.corner_uvs, first.corner_uvs)
    assert again.info["texture"]["uv"] == "kept the input UVs"
    assert set(again.textures) == {"base_color"}
    assert first.textures is not again.textures and "texture" in first.info  # input not mutated


def _front_image(width=96, height=96):
    """Left half red, right half blue, object fills the frame, transparent margin of 8 px."""
    image = np.zeros((height + 16, width + 16, 4), dtype=np.uint8)
    image[8:-8, 8:8 + width // 2] = [255, 0, 0, 255]
    image[8:-8, 8 + width // 2:-8] = [0, 0, 255, 255]
    return ImagePayload(image)


def test_image_is_projected_from_the_front_and_holes_are_filled():
    mesh = mesh_corpus.load("uv_sphere")
    out = run_texture({"mesh": mesh, "image": _front_image()}, resolution=128)
    info = out.info["texture"]
    assert 0.3 < info["image_coverage"] < 0.8  # the front, not the back
    # Sample the baked texture at surface points: left (-X) is red, right (+X) blue, front and back.
    from backend.geometry import bake
    from backend.ops.texture import triangle_corner_uvs

    texels = bake.texel_map(out.positions.astype(float), out.triangulated(), triangle_corner_uvs(out), 128)
    colors = out.textures["base_color"].reshape(-1, 4)[texels.index, :3].astype(float)
    left = texels.points[:, 0] < -0.3
    right = texels.points[:, 0] > 0.3
    assert colors[left, 0].mean() > 200 and colors[left, 2].mean() < 50
    assert colors[right, 2].mean() > 200 and colors[right, 0].mean() < 50
    back = texels.points[:, 1] > 0.5  # never seen: filled from the nearest seen colour
    assert (colors[back].sum(-1) > 100).all()


def test_image_view_from_info_right_side():
    mesh = mesh_corpus.load("uv_sphere")
    image = _front_image()
    image.info["view"] = "right"  # camera at +X: image left = -Y, image right = +Y
    out = run_texture({"mesh": mesh, "image": image}, resolution=128)
    from backend.geometry import bake
    from backend.ops.texture import triangle_corner_uvs

    texels = bake.texel_map(out.positions.astype(float), out.triangulated(), triangle_corner_uvs(out), 128)
    colors = out.textures["base_color"].reshape(-1, 4)[texels.index, :3].astype(float)
    facing = texels.points[:, 0] > 0.5
    minus_y = facing & (texels.points[:, 1] < -0.2)
    plus_y = facing & (texels.points[:, 1] > 0.2)
    assert colors[minus_y, 0].mean() > 200 and colors[plus_y, 2].mean() > 200
    assert "right view" in out.info["texture"]["source"]


def test_polygons_and_parts_survive():
    mesh = mesh_corpus.load("cylinder")  # quads + 32-gon caps
    mesh.part_ids = np.zeros(mesh.num_faces, dtype=np.int32)
    mesh.part_names = ["body"]
    out = run_texture({"mesh": mesh}, prompt="brushed steel", wear=0.0)
    out.validate("mesh")
    assert out.part_names == ["body"] and out.part_materials == [0]
    assert out.info["texture"]["materials"] == [{"part": "body", "material": "metal", "color": None,
                                                 "why": "not named on its own; 'brushed steel': 'steel' -> metal"}]
    assert out.textures["metallic"][..., 0].min() == 255


def test_progress_and_cancel():
    seen = []
    run_texture({"mesh": mesh_corpus.load("cube")}, progress=lambda f, s, m="": seen.append((f, s)), prompt="wood")
    fractions = [f for f, _ in seen]
    assert fractions[0] == 0.0 and fractions[-1] == 1.0 and fractions == sorted(fractions)
    token = CancelToken()

    def cancel_at_bake(fraction, stage, message=""):
        if stage == "texel map":
            token.cancel()

    with pytest.raises(Cancelled):
        run_texture({"mesh": mesh_corpus.load("cube")}, progress=cancel_at_bake, cancel=token, prompt="wood")


@pytest.mark.parametrize("inputs,params,match", [
    ({}, {"prompt": "wood"}, "input mesh"),
    ({"mesh": "cube"}, {"prompt": "wood"}, "input mesh"),
    ({"mesh": mesh_corpus.cube()}, {}, "prompt, an image"),
    ({"mesh": mesh_corpus.cube(), "image": ImagePayload(np.zeros((8, 8, 4), np.uint8))}, {}, "transparent"),
    ({"mesh": mesh_corpus.cube(), "image": ImagePayload(np.zeros((8, 8, 3), np.uint8))}, {}, "uint8"),
    ({"mesh": MeshPayload.from_triangles(np.zeros((0, 3)), np.zeros((0, 3)))}, {"prompt": "wood"}, "empty"),
    ({"mesh": mesh_corpus.cube()}, {"prompt": "wood", "resolution": 8}, "resolution"),
    ({"mesh": mesh_corpus.cube()}, {"prompt": "wood", "resolution": 16384}, "64 to 4096"),
    ({"mesh": mesh_corpus.cube()}, {"prompt": "wood", "wear": 2.0}, "wear"),
    ({"mesh": mesh_corpus.cube(), "image": ImagePayload(np.full((8, 8, 4), 255, np.uint8), info={"view": "up"})},
     {}, "view"),
])
def test_bad_input_is_a_clear_error(inputs, params, match):
    with pytest.raises(OpError, match=match):
        run_texture(inputs, **params)


@pytest.mark.parametrize("spoil,reason", [
    (lambda uv: np.zeros_like(uv), "collapsed"),
    (lambda uv: uv * 3.0 - 1.0, "leave the [0,1] square"),
    (lambda uv: np.fmod(uv * 4.0, 1.0) * 0.5, "overlap"),
])
def test_unusable_uvs_are_replaced_and_said_so(spoil, reason):
    mesh = run_texture({"mesh": mesh_corpus.load("uv_sphere")}, prompt="stone", pbr=False)
    mesh.corner_uvs = spoil(mesh.corner_uvs).astype(np.float32)
    out = run_texture({"mesh": mesh}, prompt="wood")
    note = out.info["texture"]["uv"]
    assert note.startswith("the input UVs cannot hold one texture") and reason in note
    assert 0 <= out.corner_uvs.min() and out.corner_uvs.max() <= 1


def _mean_part_colours(out):
    from backend.geometry import bake
    from backend.ops.texture import triangle_corner_uvs

    texels = bake.texel_map(out.positions.astype(float), out.triangulated(), triangle_corner_uvs(out), 128)
    colors = out.textures["base_color"].reshape(-1, 4)[texels.index, :3].astype(float)
    part = out.part_ids[out.triangle_face_ids()][texels.face]
    return {name: colors[part == i].mean(0) for i, name in enumerate(out.part_names)}


def test_prompt_paints_each_named_part():
    from backend.procedural.registry import generate

    chair = generate("chair", 1).artist_mesh()
    out = run_texture({"mesh": chair}, prompt="a chair with oak legs and a red leather seat")
    info = out.info["texture"]
    chosen = {c["part"]: c for c in info["materials"]}
    assert chosen["leg"]["material"] == "wood" and "'oak legs' names this part" in chosen["leg"]["why"]
    assert chosen["seat"]["material"] == "leather" and chosen["seat"]["color"] == "red"
    assert info["parts"] == "the mesh's own parts" and out.part_names == chair.part_names
    colours = _mean_part_colours(out)
    seat, leg = colours["seat"], colours["leg"]
    assert seat[0] > 2.5 * seat[1] and seat[0] > 2.5 * seat[2]  # red
    assert leg[0] > leg[1] > leg[2] and leg[1] > 0.6 * leg[0]    # wood brown, not red


def test_a_mesh_without_parts_is_split_when_the_prompt_names_two_materials():
    from backend.procedural.registry import generate

    table = generate("table", 2).artist_mesh()
    table.part_ids, table.part_names, table.part_materials = None, [], []
    out = run_texture({"mesh": table}, prompt="a table with a marble top and steel legs")
    info = out.info["texture"]
    assert info["parts"].startswith("parts engine")
    by_material = {c["material"] for c in info["materials"]}
    assert {"marble", "metal"} <= by_material, info["materials"]


def test_one_material_paints_everything_and_fifty_slots_become_one():
    from shared.payload import Material

    mesh = mesh_corpus.load("uv_sphere")
    count = 50
    mesh.part_ids = (np.arange(mesh.num_faces) % count).astype(np.int32)
    mesh.part_names = [f"piece_{i}" for i in range(count)]
    mesh.materials = [Material(name=f"slot {i}", base_color=(i / count, 0.2, 0.3, 1.0)) for i in range(count)]
    mesh.part_materials = list(range(count))
    out = run_texture({"mesh": mesh}, prompt="polished walnut")
    info = out.info["texture"]
    assert {c["material"] for c in info["materials"]} == {"wood"} and len(info["materials"]) == count
    assert "50 materials became one" in info["material_slots"]
    assert len(out.materials) == 1 and out.part_materials == [0] * count


def test_normal_map_follows_the_material_relief():
    out = run_texture({"mesh": mesh_corpus.load("cube")}, prompt="brick wall", resolution=256)
    normal = out.textures["normal"][..., :3].astype(float) / 255.0 * 2 - 1
    assert (normal[..., 2] > 0).all()               # tangent-space: always points out
    assert normal[..., 0].std() > 0.05              # mortar lines tilt it


def test_rasterized_texels_are_exactly_the_texels_inside_charts():
    """0 unfilled texels inside charts: every texel centre inside a UV triangle is baked."""
    from backend.geometry import bake
    from backend.ops.texture import triangle_corner_uvs

    out = run_texture({"mesh": mesh_corpus.load("torus")}, prompt="stone", resolution=96)
    uvs = triangle_corner_uvs(out) * 96
    uvs[..., 1] = 96 - uvs[..., 1]
    centres = np.stack(np.meshgrid(np.arange(96) + 0.5, np.arange(96) + 0.5), -1).reshape(-1, 1, 2)
    a, b, c = uvs[:, 0][None], uvs[:, 1][None], uvs[:, 2][None]

    def side(p, q, r):
        return (q[..., 0] - p[..., 0]) * (r[..., 1] - p[..., 1]) - (q[..., 1] - p[..., 1]) * (r[..., 0] - p[..., 0])

    s0, s1, s2 = side(a, b, centres), side(b, c, centres), side(c, a, centres)
    inside = (((s0 >= 0) & (s1 >= 0) & (s2 >= 0)) | ((s0 <= 0) & (s1 <= 0) & (s2 <= 0))).any(1).reshape(96, 96)
    texels = bake.texel_map(out.positions.astype(float), out.triangulated(), triangle_corner_uvs(out), 96)
    assert (inside & ~texels.mask).sum() == 0


@pytest.mark.parametrize("prompt,parts,expected", [
    ("an old wooden barrel with iron bands", ["body", "hoop"], {"body": "wood", "hoop": "metal"}),
    ("a table with a marble top, steel legs", ["top", "leg_1", "leg_2", "apron"],
     {"top": "marble", "leg_1": "metal", "leg_2": "metal", "apron": "marble"}),
    ("rusty iron", ["blade", "grip"], {"blade": "rust", "grip": "rust"}),
    ("a sword with a golden pommel and a leather grip", ["blade", "grip", "pommel"],
     {"blade": "gold", "grip": "leather", "pommel": "gold"}),
])
def test_phrases_are_matched_to_parts(prompt, parts, expected):
    from backend.models.material_choice import plan_part_materials

    plan = plan_part_materials(prompt, parts, [None] * len(parts))
    assert {c.part_name: c.kind.name for c in plan.choices} == expected
    assert all(c.why for c in plan.choices)


def test_unnamed_parts_keep_their_own_material_and_old_means_worn():
    from backend.models.material_choice import plan_part_materials, needs_parts
    from shared.payload import Material

    own = [Material(name="walnut", base_color=(0.3, 0.2, 0.1, 1.0)), Material(name="steel", metallic=1.0)]
    plan = plan_part_materials("an old chair with a red leather seat", ["seat", "leg"], own)
    seat, leg = plan.choices
    assert (seat.kind.name, seat.color) == ("leather", "red")
    assert leg.kind.name == "metal" and "kept its own material 'steel'" in leg.why
    assert plan.wear == 0.9
    assert needs_parts("a chair with oak legs and a red leather seat") and not needs_parts("polished oak")
