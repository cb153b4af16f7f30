"""Training entry points on a tiny real procedural dataset: VAE, exact resume, flow, export, generate."""
import csv
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from backend.models.checkpoint import read_config
from backend.runtime import CancelToken, Cancelled
from backend.procedural.dataset import write_dataset
from backend.procedural.sample import SampleConfig
from backend.train.data import is_held_out, split_indices
from backend.train.options import FlowTrainConfig, VAETrainConfig

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SMALL = SampleConfig(surface=512, near=512, far=256, resolution=32, glb=False)
VAE_FAST = VAETrainConfig(steps=24, batch_size=4, num_points=256, num_near=128, num_far=64, num_surface=32,
                          eval_every=12, log_every=6, warmup=4, held_out=0.2)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("shapes") / "data"
    write_dataset(root, 6, seed=3, samples_per_shard=3, categories=["mug", "table", "chair"], config=SMALL)
    return root


@pytest.fixture(scope="module")
def vae_run(dataset, tmp_path_factory):
    from backend.train.vae import train_vae
    out = tmp_path_factory.mktemp("vae")
    train_vae(str(dataset), str(out), "tiny", VAE_FAST)
    return out


def test_split_is_deterministic_and_covers_everything():
    train, val = split_indices(200, 0.1)
    assert sorted(train + val) == list(range(200))
    assert 5 <= len(val) <= 40
    assert split_indices(200, 0.1) == (train, val)
    assert all(is_held_out(i, 0.1) for i in val)
    assert split_indices(2, 0.01)[1] == [1], "a tiny dataset still gets one held-out sample"


def test_vae_training_writes_checkpoints_logs_and_learns(vae_run):
    for name in ("best.safetensors", "best.json", "last.safetensors", "last.json", "loss.csv", "loss.png"):
        assert (vae_run / name).is_file(), name
    with (vae_run / "loss.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [int(r["step"]) for r in rows] == [6, 12, 18, 24]
    assert rows[-1]["val_loss"] and rows[1]["val_loss"]
    assert float(rows[-1]["loss"]) < float(rows[0]["loss"])
    config = read_config(vae_run / "best")
    assert config["format"] == "kiln-vae" and config["held_out_shapes"] >= 1
    assert (vae_run / "loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_resume_after_cancel_matches_an_uninterrupted_run(dataset, vae_run, tmp_path):
    from backend.models.checkpoint import read_tensors
    from backend.train.vae import train_vae

    token = CancelToken()

    def stop_at_half(fraction, stage, message=""):
        if stage == "train" and fraction >= 0.5:
            token.cancel()

    with pytest.raises(Cancelled):
        train_vae(str(dataset), str(tmp_path), "tiny", VAE_FAST, progress=stop_at_half, cancel=token)
    assert read_config(tmp_path / "last")["step"] == 12
    train_vae(str(dataset), str(tmp_path), "tiny", VAE_FAST)
    resumed = read_tensors(tmp_path / "last.safetensors")
    straight = read_tensors(vae_run / "last.safetensors")
    for name in straight:
        if name.startswith("model."):
            torch.testing.assert_close(resumed[name], straight[name], rtol=0, atol=0)


def test_resume_refuses_a_different_model_size(dataset, vae_run):
    from backend.train.vae import train_vae
    with pytest.raises(ValueError, match="different vae config"):
        train_vae(str(dataset), str(vae_run), "s", VAE_FAST)


def test_sign_term_is_added_only_when_weighted(dataset):
    from backend.models.shape_vae import ShapeVAE, VAEConfig
    from backend.train.data import load_shapes, open_dataset, vae_batch
    from backend.train.options import VAE_PRESETS
    from backend.train.vae import vae_loss

    shapes = load_shapes(open_dataset(dataset), [0, 1])
    batch = vae_batch(shapes, np.array([0, 1]), np.random.default_rng(0), 64, 32, 16, 8)
    model = ShapeVAE(VAEConfig(**VAE_PRESETS["tiny"]))
    plain, parts = vae_loss(model, batch, VAE_FAST, sample=False)
    signed, signed_parts = vae_loss(model, batch, VAETrainConfig(**{**VAE_FAST.__dict__, "sign_weight": 0.5}),
                                    sample=False)
    assert "sign_bce" not in parts and signed_parts["sign_bce"] > 0
    assert signed.item() == pytest.approx(plain.item() + 0.5 * signed_parts["sign_bce"], rel=1e-5)


def test_missing_dataset_is_a_clear_error(tmp_path):
    from backend.train.vae import train_vae
    with pytest.raises(FileNotFoundError, match="manifest.json"):
        train_vae(str(tmp_path), str(tmp_path / "out"), "tiny", VAE_FAST)


def test_flow_training_export_and_generate_end_to_end(dataset, vae_run, tmp_path):
    from backend.models.shape_pipeline import ShapePipeline
    from backend.runtime import OpError
    from backend.train.flow import export_model, train_flow

    flow_out = tmp_path / "flow"
    config = FlowTrainConfig(steps=12, batch_size=4, eval_every=6, log_every=6, warmup=2, views=1, held_out=0.2)
    train_flow(str(dataset), str(vae_run / "best"), str(flow_out), "tiny", config)
    for name in ("conditions.safetensors", "latents.safetensors", "best.json", "loss.png"):
        assert (flow_out / name).is_file(), name
    weights, config_path = export_model(str(vae_run / "best"), str(flow_out / "best"), str(tmp_path / "model"))
    model_config = json.loads(config_path.read_text())
    assert model_config["format"] == "kiln-shape" and len(model_config["latent_scale"]) == 4

    pipeline = ShapePipeline.from_checkpoint(tmp_path / "model")
    seen = []
    try:
        mesh = pipeline.generate("a mug", None, {"steps": 3, "resolution": 32, "seed": 1},
                                 lambda f, s, m="": seen.append((f, s)), CancelToken())
    except OpError as exc:  # a 12-step model may decode to nothing; the error must say what to do
        assert "seed" in str(exc)
    else:
        assert mesh.num_faces > 0 and set(mesh.info["timings"]) >= {"encode", "sample", "extract", "simplify"}
        assert seen[-1][0] == 1.0
    stages = [s for _, s in seen]
    assert "encode" in stages and "sample" in stages

    with pytest.raises(ValueError, match="different VAE"):
        other = tmp_path / "other_vae"
        from backend.train.vae import train_vae
        train_vae(str(dataset), str(other), "tiny", VAETrainConfig(**{**VAE_FAST.__dict__, "steps": 6}))
        export_model(str(other / "best"), str(flow_out / "best"), str(tmp_path / "bad"))


def test_a_flow_fine_tuned_on_a_shipped_models_vae_exports_with_that_vae(dataset, vae_run, tmp_path):
    """``train flow --vae backend/weights/kiln-shape-s`` then ``export --vae`` the same model: the VAE
    tensors are the model's, the transformer the new run's (how a flow-only fine-tune ships)."""
    from backend.models.checkpoint import read_tensors
    from backend.train.flow import export_model, train_flow

    config = FlowTrainConfig(steps=6, batch_size=4, eval_every=6, log_every=6, warmup=2, views=1, held_out=0.2)
    train_flow(str(dataset), str(vae_run / "best"), str(tmp_path / "flow"), "tiny", config)
    export_model(str(vae_run / "best"), str(tmp_path / "flow" / "best"), str(tmp_path / "shipped"))
    train_flow(str(dataset), str(tmp_path / "shipped"), str(tmp_path / "tuned"), "tiny", config)
    export_model(str(tmp_path / "shipped"), str(tmp_path / "tuned" / "best"), str(tmp_path / "model"))
    shipped, tuned = read_tensors(tmp_path / "shipped.safetensors"), read_tensors(tmp_path / "model.safetensors")
    flow = read_tensors(tmp_path / "tuned" / "best.safetensors")
    assert set(tuned) == set(shipped)
    for name in tuned:
        expected = shipped[name] if name.startswith("vae.") else flow[name]
        torch.testing.assert_close(tuned[name], expected, rtol=0, atol=0)
    assert read_config(tmp_path / "model")["training"]["vae"]["step"] == read_config(vae_run / "best")["step"]


@pytest.mark.slow
def test_torchrun_data_parallel_uses_the_same_entry_point(dataset, tmp_path):
    out = tmp_path / "ddp"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_port=29533",
           "-m", "backend", "train", "vae", "--data", str(dataset), "--out", str(out), "--preset", "tiny",
           "--steps", "6", "--batch-size", "2", "--num-points", "128", "--num-near", "64", "--num-far", "32",
           "--num-surface", "16", "--log-every", "3", "--eval-every", "3", "--threads", "1", "--device", "cpu"]
    result = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr[-3000:]
    assert read_config(out / "last")["step"] == 6
    with (out / "loss.csv").open() as handle:
        assert len(list(csv.DictReader(handle))) == 2, "only rank 0 writes the log"
