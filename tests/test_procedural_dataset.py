"""Dataset writer/reader: reproducible by seed whatever the worker count, complete, readable."""
import json

import numpy as np
import pytest

from backend.cli import main
from backend.procedural.dataset import FIXED, ProceduralDataset, write_dataset
from backend.procedural.registry import categories
from backend.procedural.sample import SampleConfig, make_sample
from shared.glb import read_glb

SMALL = SampleConfig(surface=256, near=300, far=128, resolution=32)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("ds") / "one"
    write_dataset(root, 5, seed=3, workers=1, samples_per_shard=2, config=SMALL)
    return ProceduralDataset(root)


def test_manifest_counts_and_shards(dataset):
    m = dataset.manifest
    assert m["count"] == 5 and len(m["shards"]) == 3
    assert sum(m["counts"].values()) == 5
    names = list(categories())
    assert list(m["counts"]) == sorted(names[:5])


def test_items_have_every_field_with_the_right_shapes(dataset):
    item = dataset[3]
    assert item["surface_points"].shape == (256, 3) and item["surface_normals"].shape == (256, 3)
    assert item["near_points"].shape == (300, 3) and item["near_sdf"].shape == (300,)
    assert item["far_points"].shape == (128, 3) and item["far_occupancy"].dtype == np.uint8
    np.testing.assert_array_equal(item["near_occupancy"], item["near_sdf"] < 0)
    assert np.abs(item["surface_points"]).max() <= 0.95
    np.testing.assert_allclose(np.linalg.norm(item["surface_normals"], axis=1), 1, atol=1e-4)
    assert item["surface_labels"].max() < len(item["part_names"])
    assert item["mesh_faces"].max() < len(item["mesh_vertices"])
    assert len(item["mesh_face_labels"]) == len(item["mesh_faces"])
    assert item["artist_face_sizes"].sum() == len(item["artist_face_indices"])
    assert item["category"] == list(categories())[3] and len(item["captions"]) >= 3
    assert len(item["materials"]) == len(item["part_names"])
    glb = read_glb(item["artist_glb"].tobytes())
    assert glb.num_faces > 0


def test_reader_rebuilds_the_artist_mesh_in_metres(dataset):
    item = dataset[1]
    mesh = dataset.artist_mesh(1)
    mesh.validate()
    again = make_sample(item["category"], item["seed"], SMALL)["arrays"]
    np.testing.assert_array_equal(item["artist_positions"], again["artist_positions"])
    assert mesh.positions[:, 2].min() == pytest.approx(0.0, abs=1e-4)
    solid = dataset.watertight_mesh(1)
    solid.validate()
    assert solid.part_names == item["part_names"] and solid.num_faces == len(item["mesh_faces"])
    assert np.abs(solid.positions.max(0) - mesh.positions.max(0)).max() < 0.05  # same object, metres


def test_same_seed_same_bytes_with_more_workers(dataset, tmp_path):
    write_dataset(tmp_path / "two", 5, seed=3, workers=2, samples_per_shard=2, config=SMALL)
    other = ProceduralDataset(tmp_path / "two")
    for i in range(5):
        a, b = dataset[i], other[i]
        for name in FIXED:
            np.testing.assert_array_equal(a[name], b[name])
        assert a["captions"] == b["captions"]


def test_errors_are_clear(tmp_path, dataset):
    with pytest.raises(FileExistsError):
        write_dataset(dataset.root, 1, config=SMALL)
    with pytest.raises(ValueError, match="unknown categories"):
        write_dataset(tmp_path / "x", 1, categories=["spaceship"], config=SMALL)
    with pytest.raises(FileNotFoundError):
        ProceduralDataset(tmp_path)
    with pytest.raises(IndexError):
        dataset[5]


def test_cli_writes_a_dataset_and_prints_rate(tmp_path, capsys):
    out = tmp_path / "cli"
    code = main(["dataset", "procedural", "--out", str(out), "--count", "2", "--seed", "1", "--resolution", "32",
                 "--surface", "64", "--near", "64", "--far", "32", "--categories", "mug,chair", "--no-glb"])
    assert code == 0
    assert "samples/s" in capsys.readouterr().out
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["counts"] == {"chair": 1, "mug": 1}
    assert "artist_glb" not in ProceduralDataset(out)[0]
