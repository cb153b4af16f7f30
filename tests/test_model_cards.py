"""Model cards: every embedded model has one, the registry reads it, `welcome` and `models` show it."""
import fnmatch
import logging
import os
import subprocess
import sys
import tomllib

import pytest

from backend.models.model_card import SECTIONS, read_card
from backend.models.registry import WEIGHTS_DIR, ModelEntry, configure
from tests.platform_helpers.server_proc import ROOT

CARD = """---
license: mit
---
# tiny-model: a model for tests

One paragraph that says what it is,
over two lines.

License: CC-BY-4.0 (weights)

## Data
## Training
## Good and bad at
"""


@pytest.mark.parametrize("weights", sorted(WEIGHTS_DIR.glob("*.safetensors")), ids=lambda p: p.stem)
def test_every_embedded_weights_file_has_a_config_and_a_card(weights):
    """Adding a model to backend/weights means adding its card (see backend/models/model_card.py)."""
    assert weights.with_suffix(".json").is_file(), f"{weights.name} needs {weights.stem}.json beside it"
    card_path = weights.with_suffix(".md")
    assert card_path.is_file(), f"{weights.name} needs a model card {weights.stem}.md beside it"
    card = read_card(card_path)
    assert card.license, f"{card_path.name} needs a line 'License: <the model's licence>'"
    assert card.title.startswith(weights.stem), f"{card_path.name}: the title starts with the model's name"
    assert not card.missing_sections(), f"{card_path.name} lacks sections {card.missing_sections()}"


def test_every_embedded_model_in_the_registry_reads_its_card():
    entries = configure(None, "cpu").entries()
    assert {"procedural", "kiln-shape-s"} <= {e.name for e in entries}
    for entry in entries:
        card = entry.card_info
        assert card is not None and card.path.parent == WEIGHTS_DIR, f"{entry.name} has no card in backend/weights"
        assert card.path.stem in (entry.name, entry.weights and entry.weights.stem) and entry.license == card.license
        assert not card.missing_sections(), (entry.name, card.missing_sections())


def test_package_data_ships_every_file_in_backend_weights():
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["backend"]
    for path in WEIGHTS_DIR.iterdir():
        if path.is_file():
            assert any(fnmatch.fnmatch(f"weights/{path.name}", p) for p in patterns), path.name


def test_a_card_gives_title_summary_licence_and_sections(tmp_path):
    path = tmp_path / "tiny-model.md"
    path.write_text(CARD)
    card = read_card(path)
    assert card.title == "tiny-model: a model for tests"
    assert card.summary == "One paragraph that says what it is, over two lines."
    assert card.license == "mit", "a published card's front matter comes first"
    path.write_text(CARD.split("---\n", 2)[2])
    card = read_card(path)
    assert card.license == "CC-BY-4.0 (weights)" and card.sections == ("Data", "Training", "Good and bad at")
    assert card.missing_sections() == [] and len(SECTIONS) == 4
    path.write_text("# t: x\n\nA summary.\n\n## Data\n## Bad at\n")
    assert read_card(path).missing_sections() == ["Training", "Good at"] and read_card(path).license is None
    path.write_text("# only a title\n\n## Data\n")
    with pytest.raises(ValueError, match="summary"):
        read_card(path)
    path.write_text("no title\n")
    with pytest.raises(ValueError, match="title"):
        read_card(path)


def test_the_card_licence_wins_and_a_broken_card_is_ignored(tmp_path, caplog):
    path = tmp_path / "tiny.md"
    path.write_text(CARD.split("---\n", 2)[2])
    entry = ModelEntry("tiny", "shape", "code description", "GPL-3.0-or-later", ("text",), load=lambda d: None,
                       card=path)
    described = entry.describe()
    assert described["license"] == "CC-BY-4.0 (weights)" and described["card"] == "tiny.md"
    assert described["summary"].startswith("One paragraph")
    path.write_text("not a card")
    with caplog.at_level(logging.WARNING):
        broken = ModelEntry("tiny", "shape", "code description", "GPL-3.0-or-later", ("text",), load=lambda d: None,
                            card=path)
    assert broken.license == "GPL-3.0-or-later" and broken.describe()["summary"] is None
    assert "card" in caplog.text and "not used" in caplog.text


def test_a_card_beside_the_weights_is_found_without_being_named(tmp_path):
    (tmp_path / "w.safetensors").write_bytes(b"")
    entry = ModelEntry("w", "shape", "", "unknown", ("text",), load=lambda d: None, weights=tmp_path / "w.safetensors")
    assert entry.card is None and entry.license == "unknown"
    (tmp_path / "w.md").write_text(CARD.split("---\n", 2)[2])
    entry = ModelEntry("w", "shape", "", "unknown", ("text",), load=lambda d: None, weights=tmp_path / "w.safetensors")
    assert entry.card == tmp_path / "w.md" and entry.license == "CC-BY-4.0 (weights)"


def test_welcome_describes_each_model_with_its_licence_and_card_summary(tmp_path):
    from backend.server import Server
    from backend.store import JobStore

    registry = configure(None, "cpu")
    server = Server("tcp://127.0.0.1:0", JobStore(tmp_path), {}, registry=registry)
    try:
        models = {m["name"]: m for m in server.welcome["models"]}
    finally:
        server.context.destroy(0)
    for entry in registry.entries():
        described = models[entry.name]
        assert described["license"] == entry.card_info.license and described["card"] == entry.card_info.path.name
        assert described["summary"] == entry.card_info.summary and len(described["summary"]) > 40


def test_models_command_prints_each_cards_first_lines(tmp_path):
    user = tmp_path / "models"
    user.mkdir()
    (user / "my-shape.json").write_bytes((WEIGHTS_DIR / "kiln-shape-s.json").read_bytes())
    os.symlink(WEIGHTS_DIR / "kiln-shape-s.safetensors", user / "my-shape.safetensors")
    (user / "my-shape.md").write_text("# my-shape: fine-tuned on my props\n\nMy own summary.\n\nLicense: CC-BY-4.0\n")
    result = subprocess.run([sys.executable, "-m", "backend", "models", "--models", str(user)], cwd=ROOT,
                            env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    blocks = {block.split()[0]: block for block in _blocks(result.stdout)}
    for name in ("kiln-shape-s", "procedural"):
        card = read_card(WEIGHTS_DIR / f"{name}.md")
        lines = blocks[name].splitlines()
        assert lines[1].strip() == card.title
        assert " ".join(line.strip() for line in lines[2:-2]) == card.summary
        assert lines[-2].strip() == f"license: {card.license}" and lines[-1].strip().endswith(f"{name}.md")
    mine = blocks["my-shape"].splitlines()
    assert [line.strip() for line in mine[1:]] == ["my-shape: fine-tuned on my props", "My own summary.",
                                                   "license: CC-BY-4.0", f"card: {user / 'my-shape.md'}"]


def _blocks(text: str) -> list[str]:
    """The output split into one block per model (a line that does not start with a space begins one)."""
    blocks: list[str] = []
    for line in text.splitlines():
        if line and not line.startswith(" "):
            blocks.append(line)
        elif blocks:
            blocks[-1] += "\n" + line
    return blocks
