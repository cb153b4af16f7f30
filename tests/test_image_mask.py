"""Reference images without transparency get a stated mask, never a crash (backend/models/image_mask.py)."""
import numpy as np
import pytest
import torch

from backend.models import kiln_shape
from backend.models.image_encoder import prepare_image
from backend.models.image_mask import object_mask


def product_shot(alpha: bool = False) -> np.ndarray:
    image = np.full((64, 80, 4), 255, dtype=np.uint8)          # white backdrop
    image[20:50, 30:60, :3] = (120, 80, 40)                     # a brown box
    image[30:40, 40:50, :3] = (250, 250, 250)                   # a light patch inside it stays object
    if alpha:
        image[..., 3] = 0
        image[20:50, 30:60, 3] = 255
    return image


def test_alpha_is_the_mask_when_there_is_one():
    mask, method = object_mask(product_shot(alpha=True))
    assert method == "alpha channel" and mask[25, 35] == 1.0 and mask[5, 5] == 0.0


def test_an_opaque_image_on_a_plain_backdrop_gets_the_border_colour_mask():
    for image in (product_shot(), product_shot()[..., :3]):
        mask, method = object_mask(image)
        assert method.startswith("estimated") and "border colour" in method
        expected = np.zeros(mask.shape)
        expected[20:50, 30:60] = 1
        np.testing.assert_array_equal(mask, expected)
    same = prepare_image(product_shot(alpha=True)), prepare_image(product_shot())
    assert torch.allclose(*same, atol=1e-5), "the estimate crops and composites like the real alpha"


def test_a_busy_photo_uses_the_whole_image_and_says_so():
    photo = np.random.default_rng(0).integers(0, 256, (48, 48, 4), dtype=np.uint8)
    photo[..., 3] = 255
    mask, method = object_mask(photo)
    assert np.all(mask == 1.0) and method.startswith("no mask") and "transparent background" in method
    blank = np.full((32, 32, 3), 200, dtype=np.uint8)
    assert object_mask(blank)[1].startswith("no mask: nothing differs")


@pytest.mark.skipif(not (kiln_shape.WEIGHTS_DIR / f"{kiln_shape.EMBEDDED_NAME}.safetensors").is_file(),
                    reason="no embedded learned shape model")
def test_generate_from_an_opaque_image_states_the_mask_method():
    from backend.models.registry import configure
    from backend.ops import generate
    from backend.runtime import CancelToken
    from shared.payload import ImagePayload

    configure(None, "cpu")
    events = []
    mesh = generate.run({"image": ImagePayload(product_shot())}, {"prompt": "", "steps": 3, "resolution": 64},
                        lambda f, s, m="": events.append(m), CancelToken())["mesh"]
    assert mesh.info["image_mask"].startswith("estimated") and any("image mask estimated" in m for m in events)
