"""The registry provider: embedded kiln-shape-s and user kiln checkpoints (publishers' folders: test_published_*)."""
import json

import pytest
import torch

from backend.models import kiln_shape
from backend.models.checkpoint import module_tensors, save_checkpoint
from backend.models.registry import ModelRegistry
from backend.models.shape_flow import FlowConfig, ShapeFlowTransformer
from backend.models.shape_pipeline import ShapePipeline
from backend.models.shape_vae import ShapeVAE, VAEConfig
from backend.train.flow import conditioning_spec

TINY_VAE = VAEConfig(latent_channels=4, num_attention_heads=2, width_encoder=16, width_decoder=16,
                     num_layers_encoder=1, num_layers_decoder=1, embed_frequency=4, num_tokens=16)


def _kiln_checkpoint(stem):
    torch.manual_seed(1)
    flow = FlowConfig(num_attention_heads=2, width=16, in_channels=4, num_layers=3, cross_attention_dim=384,
                      use_cross_attention_2=True, cross_attention_2_dim=1280)
    tensors = module_tensors({"vae": ShapeVAE(TINY_VAE), "transformer": ShapeFlowTransformer(flow)})
    save_checkpoint(stem, tensors, {"format": "kiln-shape", "vae": TINY_VAE.to_dict(), "transformer": flow.to_dict(),
                                    "conditioning": conditioning_spec(), "description": "test model"})


def test_models_folder_entries(tmp_path):
    _kiln_checkpoint(tmp_path / "my-shapes")
    (tmp_path / "notes.json").write_text("{not json")
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / "vae").mkdir()
    entries = {e.name: e for e in kiln_shape.model_entries(tmp_path)}
    assert "my-shapes" in entries and "half" not in entries and "notes" not in entries
    assert entries["my-shapes"].conditioning == ("text", "image")
    assert entries["my-shapes"].description == "test model"
    assert entries["my-shapes"].priority < kiln_shape.EMBEDDED_PRIORITY


def test_embedded_model_is_the_default_when_its_weights_exist():
    registry = ModelRegistry(None, "cpu")
    registry.discover()
    shapes = [e.name for e in registry.entries("shape")]
    if (kiln_shape.WEIGHTS_DIR / "kiln-shape-s.safetensors").is_file():
        assert "kiln-shape-s" in shapes
        assert registry.entry("kiln-shape-s").priority == kiln_shape.EMBEDDED_PRIORITY
    else:
        assert "kiln-shape-s" not in shapes


def test_kiln_checkpoint_with_wrong_shapes_is_refused_by_name(tmp_path):
    from backend.models.checkpoint import CheckpointError

    _kiln_checkpoint(tmp_path / "m")
    config = json.loads((tmp_path / "m.json").read_text())
    config["vae"]["width_decoder"] = 24
    (tmp_path / "m.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match="vae.decoder"):
        ShapePipeline.from_checkpoint(tmp_path / "m")


def test_every_embedded_model_is_registered_and_the_highest_priority_is_the_default():
    registry = ModelRegistry(None, "cpu")
    registry.discover()
    present = {name: p for name, p in kiln_shape.EMBEDDED_MODELS.items()
               if (kiln_shape.WEIGHTS_DIR / f"{name}.safetensors").is_file()}
    if not present:
        pytest.skip("no embedded shape weights in backend/weights")
    for name, priority in present.items():
        entry = registry.entry(name)
        assert entry.priority == priority and entry.conditioning == ("text", "image")
        assert (kiln_shape.WEIGHTS_DIR / f"{name}.md").is_file() or name == "kiln-shape-s", "a model card"
    assert registry.default_name("shape") == max(present, key=present.get)
