"""Re-splitting through a real server: a parts job keeps its point features, a later job with
``from_job`` answers from them (no mesh sent, no network pass), and bad references are clear errors."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import trimesh

from backend.models.checkpoint import save_checkpoint
from backend.models.parts_net import PartsNet, PartsNetConfig
from shared.client import Client, KilnError
from shared.payload import MeshPayload
from tests.platform_helpers.server_proc import running_server


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    models = tmp_path_factory.mktemp("models")
    torch.manual_seed(0)
    config = PartsNetConfig(widths=(16, 16, 16, 16), global_width=16, head_width=16, feature_dim=8,
                            vocabulary=["part", "leg", "top"])
    save_checkpoint(models / "tiny-parts", {f"model.{k}": v for k, v in PartsNet(config).state_dict().items()},
                    {"format": "kiln-parts", "model": config.to_json()})
    with running_server(tmp_path_factory.mktemp("store"), "--models", str(models), test_ops=False,
                        real_ops="parts") as proc:
        yield proc


def _mesh() -> MeshPayload:
    box = trimesh.creation.box([1.0, 0.6, 0.4])
    leg = trimesh.creation.cylinder(0.05, 0.8)
    leg.apply_translation([0.3, 0.2, -0.5])
    both = trimesh.boolean.union([box, leg], engine="manifold")
    return MeshPayload.from_triangles(both.vertices, both.faces)


def test_resplit_and_merge_from_the_kept_features(server):
    with Client(server.address, client_name="parts") as client:
        first = client.submit("parts", {"method": "model", "num_parts": 3}, {"mesh": _mesh()})
        mesh = client.wait(first, timeout=300)["mesh"]
        assert mesh.info["parts"]["path"] == "model" and len(mesh.part_names) == 3
        assert (server.store / "jobs" / first / "cache.npz").is_file()
        more = client.submit("parts", {"from_job": first, "num_parts": 5}, {})
        resplit = client.wait(more, timeout=300)["mesh"]
        assert len(resplit.part_names) == 5 and resplit.info["parts"]["reused_features"] is True
        np.testing.assert_array_equal(resplit.positions, mesh.positions)
        merged_job = client.submit("parts", {"from_job": more, "merge": "0,4"}, {})
        merged = client.wait(merged_job, timeout=300)["mesh"]
        assert len(merged.part_names) == 4
        assert len(np.unique(merged.part_ids[np.isin(resplit.part_ids, [0, 4])])) == 1


def test_renames_sent_with_a_merge_stay_on_the_part_that_still_exists(server):
    with Client(server.address, client_name="parts") as client:
        first = client.submit("parts", {"method": "model", "num_parts": 3}, {"mesh": _mesh()})
        mesh = client.wait(first, timeout=300)["mesh"]
        names = json.dumps({"0": "my part", "1": mesh.part_names[1], "2": mesh.part_names[2]})
        merged = client.wait(client.submit("parts", {"from_job": first, "merge": "1,2", "names": names}, {}),
                             timeout=300)["mesh"]
        kept = np.unique(merged.part_ids[mesh.part_ids == 0])
        assert len(kept) == 1 and merged.part_names[kept[0]] == "my part"
        with pytest.raises(KilnError, match="JSON object"):
            client.wait(client.submit("parts", {"from_job": first, "merge": "1,2", "names": "nonsense"}, {}),
                        timeout=300)


def test_from_job_errors_are_clear(server):
    with Client(server.address) as client:
        with pytest.raises(KilnError, match="no job"):
            client.submit("parts", {"from_job": "nonexistent-job"}, {})
        geometric = client.submit("parts", {"method": "components"}, {"mesh": _mesh()})
        client.wait(geometric, timeout=300)
        with pytest.raises(KilnError, match="kept no cache"):
            client.submit("parts", {"from_job": geometric, "num_parts": 2}, {})
        with pytest.raises(KilnError, match="needs an input mesh|needs a mesh"):
            client.wait(client.submit("parts", {"method": "model"}, {}), timeout=60)
