"""The publishers' image preprocessing: alpha crop and pad, Hunyuan's recentring, the no-alpha fallback."""
import numpy as np
import pytest

from backend.models.published.images import (alpha_is_valid, hunyuan_image, hunyuan_pixels, object_mask,
                                             triposg_image)


def _rgba_box(height=100, width=80, box=(20, 60, 10, 30), colour=(200, 40, 40)):
    image = np.zeros((height, width, 4), np.uint8)
    top, bottom, left, right = box
    image[top:bottom, left:right] = (*colour, 255)
    return image


def test_triposg_crops_to_alpha_and_pads_like_its_image_process():
    image = _rgba_box()                     # object 40 tall x 20 wide
    out = triposg_image(image)
    # h > w: 10% of h (4) top and bottom, 4 + (40 - 20) / 2 = 14 left and right
    assert out.shape == (48, 48, 3)
    assert np.allclose(out[:4], 1.0) and np.allclose(out[:, :14], 1.0)    # white padding
    assert np.allclose(out[4:44, 14:34], np.array([200, 40, 40]) / 255.0, atol=1e-6)


def test_alpha_validity_follows_triposg():
    assert alpha_is_valid(_rgba_box()[..., 3])
    opaque = _rgba_box()
    opaque[..., 3] = 255
    assert not alpha_is_valid(opaque[..., 3])


def test_without_alpha_the_border_colour_is_the_background():
    rgb = np.full((60, 60, 3), 250, np.uint8)
    rgb[10:30, 20:50] = (30, 90, 200)
    mask, how = object_mask(rgb)
    assert how == "border colour"
    rows, cols = np.nonzero(mask)
    assert (rows.min(), rows.max(), cols.min(), cols.max()) == (10, 29, 20, 49)
    opaque = np.concatenate([rgb, np.full((60, 60, 1), 255, np.uint8)], axis=-1)   # alpha present but all opaque
    assert object_mask(opaque)[1] == "border colour"
    mask, how = object_mask(np.full((20, 20, 3), 128, np.uint8))
    assert how == "whole image" and mask.all()


def test_hunyuan_recentres_the_object_to_85_percent_of_the_canvas():
    out = hunyuan_image(_rgba_box(), size=200)
    assert out.shape == (200, 200, 3)
    dark = np.nonzero(out.min(axis=-1) < 0.6)             # the red object on white
    height = dark[0].max() - dark[0].min() + 1
    assert abs(height - 0.85 * 200) <= 3                    # the longer side fills (1 - border_ratio)
    centre = ((dark[0].max() + dark[0].min()) / 2, (dark[1].max() + dark[1].min()) / 2)
    assert abs(centre[0] - 100) <= 2 and abs(centre[1] - 100) <= 2
    pixels = hunyuan_pixels(_rgba_box(), 28)
    assert pixels.shape == (1, 3, 28, 28)
    assert np.isclose(float(pixels[0, :, 0, 0].mean()), float(np.mean([(1 - m) / s for m, s in zip(
        (0.485, 0.456, 0.406), (0.229, 0.224, 0.225))])), atol=1e-4)       # white, ImageNet-normalised


@pytest.mark.parametrize("bad", [np.zeros((4, 4, 4), np.uint8), np.zeros((20, 20), np.uint8),
                                 np.zeros((20, 20, 4), np.float32)])
def test_bad_images_are_refused(bad):
    with pytest.raises(ValueError):
        triposg_image(bad)
