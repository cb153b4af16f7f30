"""Conditioning: packaged EfficientNet-lite0 weights, RGBA masks, text/image/both, DINOv2 from a folder."""
import numpy as np
import pytest
import skimage.data
import torch

from backend.models import image_encoder
from backend.models.conditioning import Conditioner, ConditioningError
from backend.train.options import IMAGE_GRID, TEXT_TOKENS
from backend.train.flow import conditioning_spec


def test_packaged_imagenet_weights_load_into_our_module_tree():
    """Real photos from scikit-image classify correctly: the weights and the architecture agree."""
    net = image_encoder.load_network("cpu")
    for photo, classes in ((skimage.data.chelsea(), {281, 282, 285}),   # tabby / tiger / Egyptian cat
                           (skimage.data.coffee(), {967, 968})):         # espresso / cup
        with torch.no_grad():
            logits = net(image_encoder.prepare_image(photo, margin=0.0)[None])
        assert int(logits.argmax()) in classes


def test_rgba_alpha_is_the_object_mask():
    rng = np.random.default_rng(0)
    rgba = np.zeros((64, 96, 4), np.uint8)
    rgba[..., :3] = rng.integers(0, 255, (64, 96, 3))        # noisy background colours...
    rgba[20:40, 30:50] = (200, 30, 30, 255)                  # ...hidden by alpha except a red square
    prepared = image_encoder.prepare_image(rgba, background=1.0, margin=0.1)
    raw = prepared * torch.tensor(image_encoder.STD).view(3, 1, 1) + torch.tensor(image_encoder.MEAN).view(3, 1, 1)
    centre = raw[:, 112, 112]
    assert torch.allclose(centre, torch.tensor([200, 30, 30]) / 255, atol=0.02)
    corner = raw[:, 3, 3]
    assert torch.allclose(corner, torch.ones(3), atol=0.02), "masked-out pixels become the background"
    # the square fills the frame (cropped to the mask, 10% margin), whatever its place in the input
    square = (raw[1] < 0.3).float().mean()
    assert 0.6 < square < 0.75, "a square padded by 10% per side covers (1/1.2)^2 = 69% of the frame"


@pytest.mark.parametrize("image, message", [
    (np.zeros((32, 32, 4), np.uint8), "alpha channel is empty"),
    (np.zeros((32, 32), np.uint8), "uint8"),
    (np.zeros((32, 32, 3), np.float32), "uint8"),
    (np.zeros((4, 4, 3), np.uint8), "too small"),
])
def test_bad_images_are_refused_clearly(image, message):
    with pytest.raises(ValueError, match=message):
        image_encoder.prepare_image(image)


def test_image_tokens_are_pooled_to_the_grid():
    photo = skimage.data.astronaut()
    assert image_encoder.image_tokens([photo], grid=7).shape == (1, 49, 1280)
    assert image_encoder.image_tokens([photo], grid=2).shape == (1, 4, 1280)
    with pytest.raises(ValueError, match="grid"):
        image_encoder.image_tokens([photo], grid=9)


def test_text_image_both_or_neither():
    conditioner = Conditioner(conditioning_spec())
    assert conditioner.modalities == ("text", "image")
    photo = skimage.data.coffee()
    text_only, uncond = conditioner.encode("a ceramic mug", None)
    assert text_only["context"].shape == (1, TEXT_TOKENS, 384) and text_only["context"].abs().sum() > 0
    assert text_only["context_2"].abs().sum() == 0, "a missing image is zeros"
    assert text_only["context_2"].shape == (1, IMAGE_GRID ** 2, 1280)
    assert uncond["context"].abs().sum() == 0 and uncond["context_2"].abs().sum() == 0
    image_only, _ = conditioner.encode(None, photo)
    assert image_only["context"].abs().sum() == 0 and image_only["context_2"].abs().sum() > 0
    both, _ = conditioner.encode("a cup", photo)
    assert both["context"].abs().sum() > 0 and both["context_2"].abs().sum() > 0
    mask = text_only["context_mask"][0]
    assert mask[0] and not mask[-1], "short prompts are padded and masked"
    with pytest.raises(ConditioningError, match="prompt, an image, or both"):
        conditioner.encode("   ", None)


def test_image_only_model_refuses_text(tmp_path):
    spec = {"context": {"kind": "image-efficientnet-lite0", "grid": 2}}
    conditioner = Conditioner(spec)
    assert conditioner.modalities == ("image",)
    with pytest.raises(ConditioningError, match="not text"):
        conditioner.encode("a chair", None)
    with pytest.raises(ValueError, match="unknown conditioning kind"):
        Conditioner({"context": {"kind": "clip"}})


def test_dinov2_tokens_come_from_a_local_transformers_folder(tmp_path):
    """TripoSG's image encoder: a (tiny, random) Dinov2Model saved the way its folder stores it."""
    from transformers import Dinov2Config, Dinov2Model

    torch.manual_seed(0)
    config = Dinov2Config(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64,
                          image_size=56, patch_size=14)
    Dinov2Model(config).save_pretrained(tmp_path / "image_encoder_dinov2")
    (tmp_path / "feature_extractor_dinov2").mkdir()
    (tmp_path / "feature_extractor_dinov2" / "preprocessor_config.json").write_text(
        '{"crop_size": {"height": 56, "width": 56}, "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5]}')
    conditioner = Conditioner({"context": {"kind": "image-dinov2", "path": "image_encoder_dinov2"}}, root=tmp_path)
    cond, uncond = conditioner.encode(None, skimage.data.chelsea())
    assert cond["context"].shape == (1, 1 + (56 // 14) ** 2, 32)
    assert uncond["context"].abs().sum() == 0
    with pytest.raises(ConditioningError, match="needs an image|not text"):
        conditioner.encode("a cat", None)
    missing = Conditioner({"context": {"kind": "image-dinov2", "path": "nowhere"}}, root=tmp_path)
    with pytest.raises(ConditioningError, match="DINOv2 weights not found"):
        missing.encode(None, skimage.data.chelsea())
