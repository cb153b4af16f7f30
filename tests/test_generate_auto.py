"""model=auto: category prompts go to the procedural engine, the rest to the learned model, and the
result always says which model made it, which category and how confident (real registry, real MiniLM)."""
import numpy as np
import pytest

from backend.models import kiln_shape
from backend.models.registry import configure
from backend.ops import generate
from backend.ops.generate_route import choose
from backend.runtime import CancelToken, OpError
from shared.payload import ImagePayload
from shared.protocol import validate_params

HAS_LEARNED = (kiln_shape.WEIGHTS_DIR / f"{kiln_shape.EMBEDDED_NAME}.safetensors").is_file()
FAST = {"steps": 4, "resolution": 64}


@pytest.fixture(scope="module")
def registry():
    return configure(models_dir=None, device="cpu")


def run(params, inputs=None):
    events = []
    out = generate.run(inputs or {}, validate_params(generate.params_schema(), params),
                       lambda f, s, m="": events.append((f, s, m)), CancelToken())
    return out["mesh"], events


@pytest.mark.parametrize("prompt, category", [("a wooden chair", "chair"), ("a round table", "table"),
                                              ("a floor lamp", "lamp"), ("a bar stool", "stool"),
                                              ("a sofa", "sofa"), ("an old wooden barrel", "barrel")])
def test_category_prompts_route_to_procedural(registry, prompt, category):
    route = choose(registry, "auto", prompt, has_image=False)
    assert (route.model, route.reason, route.match.category) == ("procedural", "category", category)
    assert route.match.confidence >= 0.5


@pytest.mark.parametrize("prompt", ["a dragon", "a car", "a spaceship", "a cat", "a robot", "une chaise en bois",
                                    "🐉", "asdf qwerty"])
def test_other_prompts_route_to_the_learned_model(registry, prompt):
    route = choose(registry, "auto", prompt, has_image=False)
    assert route.reason in ("no-category", "no-learned-model") and not route.match.matched
    if HAS_LEARNED:
        assert route.model == registry.default_name("shape") != "procedural"


def test_a_long_prompt_is_matched_by_its_head_clause(registry):
    prompt = ("a wooden chair with four legs and a slatted back, " * 20)[:1000]
    route = choose(registry, "auto", prompt, has_image=False)
    assert route.model == "procedural" and route.match.category == "chair"


def test_auto_is_the_default_and_reports_the_route(registry):
    mesh, events = run({"prompt": "a wooden chair", "seed": 2})
    info = mesh.info
    assert info["model"] == "procedural" and info["requested_model"] == "auto" and info["category"] == "chair"
    assert info["summary"] == f"chair, procedural, {info['confidence']:.0%}" and "warning" not in info
    assert events[0][1] == "route"


def test_procedural_asked_for_an_out_of_category_prompt_says_so(registry):
    mesh, _ = run({"prompt": "a dragon", "model": "procedural"})
    info = mesh.info
    assert info["model"] == "procedural" and not info["matched"] and info["confidence"] < 0.5
    assert info["warning"].startswith(f"no category is close to 'a dragon'; nearest: {info['category']}")
    assert "anyway" in info["warning"]


@pytest.mark.skipif(not HAS_LEARNED, reason="no embedded learned shape model")
def test_out_of_category_prompt_is_made_by_the_learned_model_and_warns(registry):
    mesh, _ = run({"prompt": "a dragon", **FAST})
    info = mesh.info
    assert info["model"] == registry.default_name("shape") and info["route"] == "no-category"
    assert info["nearest_category"] and info["confidence"] < 0.5 and "category" not in info
    assert "no category is close to 'a dragon'" in info["warning"] and info["model"] in info["warning"]
    assert mesh.num_faces > 0


@pytest.mark.skipif(not HAS_LEARNED, reason="no embedded learned shape model")
def test_an_image_goes_to_a_learned_image_model(registry):
    picture = np.full((64, 64, 4), 255, dtype=np.uint8)
    picture[16:48, 20:44, :3] = (120, 80, 40)
    route = choose(registry, "auto", "", has_image=True)
    assert route.reason == "image" and "image" in registry.entry(route.model).conditioning
    mesh, _ = run({"prompt": "", **FAST}, {"image": ImagePayload(picture)})
    assert mesh.info["summary"] == f"{route.model}, learned, from the image"


def test_nothing_to_generate_from_names_the_fix(registry):
    with pytest.raises(OpError, match="give a prompt .*'a wooden chair'.*an image"):
        run({"prompt": "  "})


def test_the_cli_prints_what_it_made_and_the_warning(registry, tmp_path, capsys):
    from backend.cli import main
    assert main(["generate", "--prompt", "a dragon", "--model", "procedural", "-o", str(tmp_path / "d.glb")]) == 0
    out, err = capsys.readouterr()
    assert "made: " in out and ", procedural, " in out
    assert "warning: no category is close to 'a dragon'" in err
