"""The triplane shape VAE (kiln-shape-g): sizes, plane axes, training on real procedural data, save/load."""
import csv

import numpy as np
import pytest
import torch

from backend.models.checkpoint import read_config, save_checkpoint
from backend.models.registry import WEIGHTS_DIR
from backend.models.shape_triplane import TriplaneConfig, TriplaneVAE
from backend.models.vae_kinds import build_vae, split_preset
from backend.procedural.dataset import write_dataset
from backend.procedural.sample import SampleConfig
from backend.train.options import VAE_PRESETS, VAETrainConfig

TINY = split_preset(VAE_PRESETS["g-tiny"])[1]
FAST = VAETrainConfig(steps=30, batch_size=4, num_points=256, num_near=128, num_far=64, num_surface=32,
                      eval_every=10, log_every=10, warmup=4, held_out=0.2, lr=3e-3)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("shapes") / "data"
    write_dataset(root, 5, seed=4, samples_per_shard=5, categories=["mug", "table"],
                  config=SampleConfig(surface=512, near=512, far=256, resolution=32, glb=False))
    return root


def _inputs(batch=2, count=300, seed=0):
    g = torch.Generator().manual_seed(seed)
    points = torch.rand(batch, count, 3, generator=g) * 1.8 - 0.9
    return points, torch.nn.functional.normalize(torch.randn(batch, count, 3, generator=g), dim=-1)


def test_config_round_trip_and_token_shapes():
    config = TriplaneConfig.from_dict({**TINY, "_class_name": "ignored"})
    assert TriplaneConfig.from_dict(config.to_dict()) == config
    model = build_vae("triplane", TINY)
    mean, logvar = model.encode(*_inputs())
    assert mean.shape == logvar.shape == (2, 3 * 4 * 4, 4) == (2, config.num_tokens, config.latent_channels)
    planes = model.decode_tokens(mean)
    assert planes.shape == (2, 3, config.plane_channels, 8, 8)
    assert model.query(planes, _inputs()[0][:, :50]).shape == (2, 50)
    with pytest.raises(ValueError, match="power of two"):
        TriplaneConfig.from_dict({**TINY, "plane_resolution": 12})
    with pytest.raises(ValueError, match="latent cells"):
        model.encode(*_inputs(), num_tokens=16)
    with pytest.raises(ValueError, match="unknown VAE architecture"):
        build_vae("octree", {})


def test_a_point_reads_the_plane_cell_it_was_scattered_into():
    """The encoder's cell index and the decoder's bilinear read agree on every plane's axes."""
    model = TriplaneVAE(TriplaneConfig.from_dict(TINY))
    r = model.config.plane_resolution
    point = torch.tensor([[[0.62, -0.37, 0.12]]])
    cells = model._cells(point)[0, :, 0]
    for plane, (a, b) in enumerate(((0, 1), (0, 2), (1, 2))):
        rows, cols = divmod(int(cells[plane]), r)
        expect = [int((float(point[0, 0, axis]) + 1) / 2 * r) for axis in (a, b)]
        assert [rows, cols] == expect
        planes = torch.zeros(1, 3, 1, r, r)
        planes[0, plane, 0, rows, cols] = 1.0
        # the query at the cell's centre reads exactly that cell
        cell_centre = point.clone()
        cell_centre[0, 0, a] = -1 + (2 * rows + 1) / r
        cell_centre[0, 0, b] = -1 + (2 * cols + 1) / r
        grid = torch.stack([cell_centre[..., b], cell_centre[..., a]], dim=-1)[:, None]
        read = torch.nn.functional.grid_sample(planes[:, plane], grid, align_corners=False)[0, 0, 0, 0]
        assert float(read) == pytest.approx(1.0)


def test_training_lowers_the_loss_and_resumes_with_its_time_budget(dataset, tmp_path):
    from backend.models.shape_reconstruct import Autoencoder
    from backend.train.vae import train_vae

    summary = train_vae(str(dataset), str(tmp_path / "run"), "g-tiny", FAST)
    with (tmp_path / "run" / "loss.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [int(r["step"]) for r in rows] == [10, 20, 30]
    assert float(rows[-1]["loss"]) < float(rows[0]["loss"])
    assert float(rows[-1]["val_loss"]) < float(rows[0]["val_loss"])
    config = read_config(tmp_path / "run" / "best")
    assert config["architecture"] == "triplane" and config["vae"] == TriplaneConfig.from_dict(TINY).to_dict()
    assert summary["train_seconds"] > 0

    # a wall-clock budget stops the run (checkpointed), and the saved training time carries over
    budget = VAETrainConfig(**{**FAST.__dict__, "steps": 10 ** 6, "minutes": 1e-4})
    train_vae(str(dataset), str(tmp_path / "timed"), "g-tiny", budget)
    first = read_config(tmp_path / "timed" / "last")
    assert 1 <= first["step"] < 100 and first["train_seconds"] >= 0.006
    train_vae(str(dataset), str(tmp_path / "timed"), "g-tiny", budget)
    assert read_config(tmp_path / "timed" / "last")["step"] == first["step"], "the budget was already spent"
    assert isinstance(Autoencoder.load(str(tmp_path / "run" / "best")).vae, TriplaneVAE)


def test_save_load_round_trip_through_safetensors(tmp_path):
    from backend.models.shape_reconstruct import Autoencoder
    from backend.train.flow import load_vae

    torch.manual_seed(0)
    model = build_vae("triplane", TINY).eval()
    config = {"format": "kiln-vae", "architecture": "triplane", "vae": model.config.to_dict()}
    save_checkpoint(tmp_path / "vae", {f"vae.{k}": v for k, v in model.state_dict().items()}, config)
    loaded = Autoencoder.load(str(tmp_path / "vae")).vae
    points, normals = _inputs(1, 400, seed=3)
    queries = torch.rand(1, 100, 3) * 2 - 1
    with torch.no_grad():
        expected = model.query(model.decode_tokens(model.encode(points, normals)[0]), queries)
        got = loaded.query(loaded.decode_tokens(loaded.encode(points, normals)[0]), queries)
    torch.testing.assert_close(got, expected, rtol=0, atol=0)
    with pytest.raises(ValueError, match="vecset"):
        load_vae(tmp_path / "vae")
    assert np.isfinite(got.numpy()).all()


def test_export_vae_writes_a_named_vae_only_model(tmp_path):
    from backend.models.shape_reconstruct import Autoencoder, vae_only_stem
    from backend.train.vae import export_vae

    model = build_vae("triplane", TINY)
    save_checkpoint(tmp_path / "best", {f"vae.{k}": v for k, v in model.state_dict().items()},
                    {"format": "kiln-vae", "architecture": "triplane", "vae": model.config.to_dict(), "step": 7})
    export_vae(str(tmp_path / "best"), str(tmp_path / "kiln-shape-x"), "kiln-shape-x", "a test VAE")
    config = read_config(tmp_path / "kiln-shape-x")
    assert config["name"] == "kiln-shape-x" and config["architecture"] == "triplane"
    assert config["training"]["step"] == 7 and config["license"]
    assert vae_only_stem(str(tmp_path / "kiln-shape-x")) is not None
    assert vae_only_stem("kiln-shape-s") is None, "a generator is not a VAE-only model"
    assert isinstance(Autoencoder.load(str(tmp_path / "kiln-shape-x")).vae, TriplaneVAE)
    with pytest.raises(ValueError, match="not a `train vae` checkpoint"):
        export_vae(str(WEIGHTS_DIR / "kiln-shape-s"), str(tmp_path / "again"), "x", "")


def test_the_embedded_kiln_shape_g_loads_by_name_and_is_not_a_generator():
    from backend.models.registry import configure
    from backend.models.shape_reconstruct import Autoencoder

    auto = Autoencoder.load("kiln-shape-g")
    assert isinstance(auto.vae, TriplaneVAE) and auto.vae.config.to_dict() == TriplaneConfig.from_dict(
        split_preset(VAE_PRESETS["g"])[1]).to_dict()
    assert "kiln-shape-g" not in {e.name for e in configure(None, "cpu").entries()}
