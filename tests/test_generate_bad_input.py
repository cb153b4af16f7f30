"""Issue 10's bad input for generate, through a real backend subprocess (real registry, MiniLM and
embedded models): each gets a clear error naming the fix or a result that says what was made, and
the server goes on serving."""
import numpy as np
import pytest

from backend.models import kiln_shape
from shared.client import Client, KilnError
from shared.payload import ImagePayload
from shared.protocol import ErrorCode, ProtocolError
from tests.platform_helpers.server_proc import running_server

HAS_LEARNED = (kiln_shape.WEIGHTS_DIR / f"{kiln_shape.EMBEDDED_NAME}.safetensors").is_file()
FAST = {"steps": 4, "resolution": 64}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with running_server(tmp_path_factory.mktemp("store"), test_ops=False, real_ops="generate") as proc:
        yield proc


def generate(server, params, inputs=None):
    with Client(server.address, client_name="bad-input") as client:
        job = client.submit("generate", params, inputs)
        return client.wait(job, timeout=300)["mesh"]


@pytest.mark.parametrize("prompt", ["", "   \n\t "])
def test_no_prompt_and_no_image_names_the_fix(server, prompt):
    with pytest.raises(KilnError) as error:
        generate(server, {"prompt": prompt})
    assert error.value.code == ErrorCode.FAILED
    assert "give a prompt (e.g. 'a wooden chair'), an image, or both" in error.value.message


def test_a_prompt_of_1000_characters_is_matched_by_its_head_and_1001_is_refused(server):
    long = ("a wooden chair with four legs and a slatted back, " * 21)[:1000]
    mesh = generate(server, {"prompt": long})
    assert mesh.info["model"] == "procedural" and mesh.info["summary"].startswith("chair, procedural")
    with pytest.raises(KilnError) as error:
        generate(server, {"prompt": long + "x"})
    assert error.value.code == ErrorCode.BAD_REQUEST and "1000" in error.value.message


@pytest.mark.skipif(not HAS_LEARNED, reason="no embedded learned shape model")
@pytest.mark.parametrize("prompt", ["une chaise en bois", "木の椅子", "🪑", "🐉🐉🐉"])
def test_other_languages_and_emoji_go_to_the_learned_model_with_a_plain_warning(server, prompt):
    mesh = generate(server, {"prompt": prompt, **FAST})
    assert mesh.num_faces > 0 and mesh.info["model"] != "procedural"
    assert mesh.info["warning"].startswith(f"no category is close to '{prompt}'; nearest: ")
    assert mesh.info["candidates"]["tried"][0]["seed"] == 0
    if mesh.info["extraction"]["largest_piece_share"] < 0.95:      # the model's own warning comes too
        assert "separate pieces" in mesh.info["warning"]


def opaque_product_shot():
    picture = np.full((64, 64, 4), 255, dtype=np.uint8)     # a brown box on a white backdrop, alpha all 255
    picture[16:48, 20:44, :3] = (120, 80, 40)
    return picture


def opaque_photo():
    return np.random.default_rng(0).integers(0, 256, (64, 64, 4), dtype=np.uint8) | np.array([0, 0, 0, 255],
                                                                                             dtype=np.uint8)


@pytest.mark.skipif(not HAS_LEARNED, reason="no embedded learned shape model")
@pytest.mark.parametrize("picture, method", [(opaque_product_shot, "estimated: the image has no transparency"),
                                             (opaque_photo, "no mask: the image has no transparency and its border")])
def test_an_image_without_transparency_gets_a_stated_mask(server, picture, method):
    mesh = generate(server, {"prompt": "", **FAST}, {"image": ImagePayload(picture())})
    assert mesh.num_faces > 0 and mesh.info["summary"].endswith("learned, from the image")
    assert mesh.info["image_mask"].startswith(method)


def test_an_rgb_image_without_an_alpha_channel_is_refused_with_the_layout(server):
    """The client checks the payload before sending (the add-on always sends RGBA)."""
    with pytest.raises(ProtocolError, match=r"must be non-empty uint8 \(H,W,4\), got uint8 \(64, 64, 3\)"):
        generate(server, {"prompt": "a chair"}, {"image": ImagePayload(opaque_product_shot()[..., :3].copy())})


def test_the_server_still_serves_after_all_of_it(server):
    with Client(server.address) as client:
        assert "generate" in client.connect()["ops"]
    mesh = generate(server, {"prompt": "a wooden chair"})
    assert mesh.info["summary"].startswith("chair, procedural")
