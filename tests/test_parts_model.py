"""The learned parts path: network, cache, re-split without the network, merge, auto fallback,
bad input. A tiny randomly initialised checkpoint stands in where only the mechanics matter;
the shipped ``kiln-parts-s`` is checked on a held-out procedural object."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import trimesh

from backend.models import kiln_parts, registry
from backend.models.checkpoint import save_checkpoint
from backend.models.parts_net import PartsNet, PartsNetConfig, contrastive_loss
from backend.ops import parts
from backend.runtime import CancelToken, JobCache, OpError
from shared.payload import MeshPayload

VOCAB = ["part", "leg", "seat", "top"]


def _params(**over):
    return {"num_parts": 0, "method": "model", "from_job": "", "merge": "", **over}


def _run(mesh, cache=None, **params):
    inputs = {"mesh": mesh} if cache is None else {"mesh": mesh, "cache": JobCache(cache)}
    return parts.run(inputs, _params(**params), lambda *a: None, CancelToken())


@pytest.fixture
def tiny_model(tmp_path, monkeypatch):
    """A registry whose default part model is a small random network saved like a real one."""
    torch.manual_seed(0)
    config = PartsNetConfig(widths=(16, 16, 16, 16), global_width=16, head_width=16, feature_dim=8, vocabulary=VOCAB)
    net = PartsNet(config)
    stem = tmp_path / "tiny-parts"
    save_checkpoint(stem, {f"model.{k}": v for k, v in net.state_dict().items()},
                    {"format": "kiln-parts", "model": config.to_json()})
    reg = registry.ModelRegistry(tmp_path)
    for entry in kiln_parts.model_entries(tmp_path):
        if entry.name == "tiny-parts":  # the shipped model is found too; the tiny one must win
            entry.priority = 100
            reg.register(entry)
    monkeypatch.setattr(registry, "_registry", reg)
    return reg


def _table() -> MeshPayload:
    top = trimesh.creation.box([1.2, 0.8, 0.08])
    top.apply_translation([0, 0, 0.74])
    legs = []
    for sx in (-1, 1):
        for sy in (-1, 1):
            leg = trimesh.creation.box([0.08, 0.08, 0.72])
            leg.apply_translation([sx * 0.5, sy * 0.3, 0.36])
            legs.append(leg)
    mesh = trimesh.boolean.union([top] + legs, engine="manifold")
    return MeshPayload.from_triangles(mesh.vertices, mesh.faces)


def test_network_shapes_and_contrastive_loss_prefers_grouped_features():
    net = PartsNet(PartsNetConfig(widths=(8, 8, 8, 8), global_width=8, head_width=8, feature_dim=4, vocabulary=VOCAB))
    points = torch.rand(2, 64, 3) * 2 - 1
    feats, logits = net(points, torch.nn.functional.normalize(torch.randn(2, 64, 3), dim=-1))
    assert feats.shape == (2, 64, 4) and logits.shape == (2, 64, len(VOCAB))
    assert torch.allclose(feats.norm(dim=-1), torch.ones(2, 64), atol=1e-5)
    inst = torch.arange(64).remainder(2).reshape(1, 64)
    grouped = torch.nn.functional.normalize(torch.stack([inst[0].float(), 1 - inst[0].float()], dim=-1), dim=-1)[None]
    mixed = torch.nn.functional.normalize(torch.randn(1, 64, 2), dim=-1)
    assert contrastive_loss(grouped, inst) < contrastive_loss(mixed, inst)


def test_model_path_returns_named_parts_and_keeps_a_cache(tiny_model):
    out = _run(_table(), num_parts=3)
    mesh, cache = out["mesh"], out["cache"]
    info = mesh.info["parts"]
    assert info["path"] == "model" and info["model"] == "tiny-parts" and 0 <= info["confidence"] <= 1
    assert len(mesh.part_names) == 3 == int(mesh.part_ids.max()) + 1
    assert len(set(mesh.part_names)) == 3
    assert isinstance(cache, JobCache)
    assert cache.arrays["features"].shape == (cache.arrays["points"].shape[0], 8)
    assert list(cache.arrays["vocabulary"]) == VOCAB


def test_resplit_from_cache_never_runs_the_network(tiny_model, monkeypatch):
    first = _run(_table(), num_parts=2)
    monkeypatch.setattr(kiln_parts.PartsModel, "embed", lambda *a, **k: pytest.fail("network ran again"))
    more = _run(first["mesh"], first["cache"].arrays, num_parts=4, from_job="earlier")
    assert len(more["mesh"].part_names) == 4
    assert more["mesh"].info["parts"]["reused_features"] is True
    assert isinstance(more["cache"], JobCache)  # the chain can go on


def test_merge_joins_two_parts_of_the_earlier_result(tiny_model):
    first = _run(_table(), num_parts=4)
    earlier = first["mesh"]
    merged = _run(earlier, first["cache"].arrays, from_job="earlier", merge="0,2")["mesh"]
    assert len(merged.part_names) == 3
    joined = merged.part_ids[np.isin(earlier.part_ids, [0, 2])]
    assert len(np.unique(joined)) == 1
    with pytest.raises(OpError, match="two different part indices"):
        _run(earlier, first["cache"].arrays, from_job="earlier", merge="1,9")


def _same_partition_or_coarser(fine: np.ndarray, coarse: np.ndarray) -> bool:
    """Every part of ``fine`` lies inside one part of ``coarse``."""
    return all(len(np.unique(coarse[fine == p])) == 1 for p in np.unique(fine))


def test_big_meshes_are_cut_on_a_proxy_on_both_paths(tiny_model, monkeypatch):
    table = trimesh.Trimesh(_table().positions, _table().triangulated()).subdivide()
    mesh = MeshPayload.from_triangles(table.vertices, table.faces)
    monkeypatch.setattr(parts, "MODEL_FULL_FACES", 400)  # the table counts as big: a 300-face proxy
    monkeypatch.setattr(parts, "MODEL_PROXY_FACES", 300)
    for method, path in (("model", "model"), ("auto", "hybrid")):
        out = _run(mesh, method=method, num_parts=3)["mesh"]
        assert out.info["parts"]["path"] == path
        assert len(out.part_ids) == mesh.num_faces and 2 <= len(out.part_names) <= 3
        assert len(np.unique(out.part_ids)) == len(out.part_names)


def test_renames_survive_a_merge_and_a_resplit_where_the_part_still_exists(tiny_model):
    first = _run(_table(), num_parts=4)
    earlier, cache = first["mesh"], first["cache"].arrays
    names = {str(i): n for i, n in enumerate(earlier.part_names)}
    names["1"], names["3"] = "my top", earlier.part_names[3] + ".001"  # a rename; Blender's suffix is none
    merged = _run(earlier, cache, from_job="earlier", merge="0,2", names=json.dumps(names))["mesh"]
    kept = merged.part_ids[earlier.part_ids == 1]
    assert len(np.unique(kept)) == 1 and merged.part_names[kept[0]] == "my top"
    assert "my top" not in _run(earlier, cache, from_job="earlier", merge="0,2")["mesh"].part_names
    assert not any(n.endswith(".001") for n in merged.part_names)
    # merging the renamed part into a bigger one: the joined part is mostly not it, the name goes
    tri = earlier.positions[earlier.triangulated()]
    tri_area = 0.5 * np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1)
    area = np.bincount(earlier.part_ids[earlier.triangle_face_ids()], weights=tri_area, minlength=4)
    big = int(np.argmax(np.where(np.arange(4) == 1, -1, area)))
    joined = _run(earlier, cache, from_job="earlier", merge=f"1,{big}", names=json.dumps(names))["mesh"]
    assert ("my top" in joined.part_names) == (area[1] > area[big])
    with pytest.raises(OpError, match="JSON object"):
        _run(earlier, cache, from_job="earlier", merge="0,2", names="[1, 2]")
    with pytest.raises(OpError, match="outside"):
        _run(earlier, cache, from_job="earlier", merge="0,2", names='{"9": "x"}')


def test_auto_unsure_model_names_the_geometric_parts(tiny_model):
    mesh = _run(_table(), method="auto")["mesh"]  # a random network is never sure
    info = mesh.info["parts"]
    assert info["path"] == "hybrid" and info["model_weakest_part"] < parts.MIN_PART_CONFIDENCE
    assert "unsure" in info["report"] or "is one part" in info["report"]
    geometric = _run(_table(), method="geometric")["mesh"]
    assert _same_partition_or_coarser(geometric.part_ids, mesh.part_ids)
    # names the random model is unsure of come from the shape rules (leg, body, top...)
    assert "leg" in {n.rsplit("_", 1)[0] for n in mesh.part_names}


def test_auto_told_the_count_names_the_geometric_engines_parts(tiny_model):
    out = _run(_table(), method="auto", num_parts=3)
    mesh, info = out["mesh"], out["mesh"].info["parts"]
    geometric = _run(_table(), method="geometric", num_parts=3)["mesh"]
    assert info["path"] == "hybrid" and "told the count" in info["report"]
    assert len(mesh.part_names) == 3
    assert _same_partition_or_coarser(geometric.part_ids, mesh.part_ids)
    assert _same_partition_or_coarser(mesh.part_ids, geometric.part_ids)
    fewer = _run(mesh, out["cache"].arrays, method="auto", from_job="earlier", num_parts=2)["mesh"]  # stays hybrid
    assert fewer.info["parts"]["path"] == "hybrid" and len(fewer.part_names) == 2


def test_auto_without_any_part_model_is_geometric(monkeypatch, tmp_path):
    monkeypatch.setattr(registry, "_registry", registry.ModelRegistry(tmp_path))
    out = _run(_table(), method="auto")
    assert out["mesh"].info["parts"]["path"] == "geometric" and "cache" not in out
    with pytest.raises(OpError, match="no part model"):
        _run(_table(), method="model")


def test_resplit_and_merge_need_a_server_cache():
    with pytest.raises(OpError, match="submit it to a server"):
        _run(_table(), from_job="abc")
    with pytest.raises(OpError, match="from_job"):
        _run(_table(), merge="0,1")


@pytest.mark.parametrize("case", ["one_triangle", "64_pieces", "soup"])
def test_awkward_meshes_give_a_clear_result(tiny_model, case):
    rng = np.random.default_rng(0)
    if case == "one_triangle":
        mesh = MeshPayload.from_triangles([[0, 0, 0], [1, 0, 0], [0, 1, 0]], [[0, 1, 2]])
    elif case == "64_pieces":
        boxes = []
        for i in range(64):
            box = trimesh.creation.box([0.1, 0.1, 0.1])
            box.apply_translation([i % 8, i // 8, 0])
            boxes.append(box)
        whole = trimesh.util.concatenate(boxes)
        mesh = MeshPayload.from_triangles(whole.vertices, whole.faces)
    else:
        mesh = MeshPayload.from_triangles(rng.random((300, 3)), rng.integers(0, 300, (200, 3)))
    out = _run(mesh, num_parts=64 if case == "64_pieces" else 0)["mesh"]
    assert 1 <= len(out.part_names) <= parts.MAX_PARTS
    if case == "64_pieces":  # every piece its own part, or a note saying why not
        assert len(out.part_names) == 64 or "asked for 64" in out.info["parts"]["report"]
    with pytest.raises(OpError, match="num_parts"):
        _run(mesh, num_parts=parts.MAX_PARTS + 1)


def test_point_cloud_without_faces_is_a_clear_error(tiny_model):
    cloud = MeshPayload.from_triangles(np.random.default_rng(0).random((50, 3)), np.zeros((0, 3), int))
    with pytest.raises(OpError):
        _run(cloud)


def test_asking_more_parts_than_the_features_give_says_so(tiny_model):
    box = trimesh.creation.box([1, 1, 1])
    out = _run(MeshPayload.from_triangles(box.vertices, box.faces), num_parts=40)["mesh"]
    count = len(out.part_names)
    assert count <= 40
    if count < 40:
        assert "asked for 40 parts" in out.info["parts"]["report"]


@pytest.mark.skipif(not (kiln_parts.WEIGHTS_DIR / "kiln-parts-s.safetensors").is_file(), reason="weights not built")
def test_shipped_model_names_a_held_out_chair(monkeypatch):
    from backend.procedural.meshing import watertight_mesh
    from backend.procedural.registry import generate

    monkeypatch.setattr(registry, "_registry", registry.ModelRegistry(None))
    registry._registry.discover()
    card = (kiln_parts.WEIGHTS_DIR / "kiln-parts-s.md").read_text()
    assert "License:" in card
    assert json.loads((kiln_parts.WEIGHTS_DIR / "kiln-parts-s.json").read_text())["format"] == "kiln-parts"
    vertices, faces, _ = watertight_mesh(generate("table", 3), 48)  # seed 3 < 1000: never trained on
    out = parts.run({"mesh": MeshPayload.from_triangles(vertices, faces)}, _params(method="model"),
                    lambda *a: None, CancelToken())["mesh"]
    assert out.info["parts"]["path"] == "model"
    bases = {n.rsplit("_", 1)[0] for n in out.part_names}
    assert "leg" in bases and "top" in bases
