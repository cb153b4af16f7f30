"""Calibrate and check `model=auto`'s routing: which prompts the procedural engine should take.

    .venv/bin/python bench/routing.py [--fit]

The prompt matcher (backend/procedural/prompt.py) scores a prompt by its best similarity to a
category, that similarity's lead over the runner-up and its lead over the nearest counter-example
(backend/procedural/not_categories.py, which is also CALIBRATION_OUT). ``--fit`` fits the logistic
function ``confidence = sigmoid(a * (similarity - c) + b * lead + d * counter_lead)`` on the
CALIBRATION lists (in-category prompts = 1, out-of-category = 0; a counter-example is left out of
the bank for its own row, so it cannot match itself), prints how many it gets right that way and
the constants to put in prompt.py. Without it the shipped constants are used. Either way the script
reports accuracy on the HELD-OUT lists (never used to fit) and prints how odd inputs (other
languages, emoji, 1000 characters) are routed.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from backend.procedural.not_categories import NOT_CATEGORIES  # noqa: E402

CALIBRATION_IN = [
    "a wooden chair", "a round table", "a floor lamp", "a bar stool", "a sofa", "a red metal stool",
    "an oak barrel", "a glass bottle", "a ceramic mug", "a big rock", "a medieval sword", "a knight's shield",
    "a pine tree", "a small house", "a wooden fence", "a flower pot with soil", "a trash can", "a tall vase",
    "a wardrobe", "a bookshelf full of books", "a kitchen cabinet", "an office desk", "a wooden door",
    "a double bed", "a park bench", "a leather armchair", "a candle", "a soup bowl", "a wooden crate",
    "a tall wooden chair with a slatted back", "a cozy three-seat couch", "a stone boulder", "a dresser",
    "chair", "an old rusty metal barrel with iron hoops", "a low coffee table made of glass",
    "a green glass wine bottle", "a blue ceramic coffee mug with a handle", "a short fat candle",
    "a fantasy sword with a golden hilt", "a wooden garden bench", "a low poly tree", "a brick cottage",
    "a metal wastebasket", "a bedside table lamp", "a tall narrow bookcase", "a wooden storage box",
    "a big cushioned armchair", "a simple wooden stool", "a round wooden shield", "a mossy rock",
]
CALIBRATION_OUT = NOT_CATEGORIES   # also the matcher's counter-examples (left out of the bank for their own row)
HELD_OUT_IN = [
    "a seat for one person with four legs", "a wooden kitchen chair with a slatted back", "dining chair",
    "a comfy padded armchair", "an easy chair with armrests for the living room", "a backless seat with three legs",
    "a round dining table", "a big wooden table to eat dinner at", "an office desk with drawers", "a writing desk",
    "a double bed with pillows", "a three seat couch", "a leather sofa", "a stone bench",
    "a tall bookcase full of books", "a kitchen cupboard", "a chest of drawers", "a closet to hang clothes",
    "an armoire", "a bedside light with a lampshade", "a wax candle", "a blue ceramic vase", "an urn for flowers",
    "a wine bottle", "a coffee mug", "a wooden bowl", "a steel oil drum", "a shipping crate",
    "a rubbish bin with a lid",
    "a potted cactus", "a terracotta planter", "a front door", "a white picket fence", "an iron railing",
    "a longsword", "a golden sword", "a tall oak tree", "a palm tree", "a pile of stones", "a two storey house",
]
HELD_OUT_OUT = [
    "a unicorn", "a truck", "a submarine", "a penguin", "an android", "a kettle", "a human hand", "a jet fighter",
    "a scooter", "a wolf", "a violin", "a drone", "a sailboat", "a cow", "an apple", "a keyboard",
    "a camera", "a lighthouse", "a train", "a snowman",
]
EVERYDAY_OUT = [   # issue 10: the odd half of 48 everyday objects (the even half is in CALIBRATION_OUT)
    "a fork", "a dinner plate", "a toaster", "a mirror", "a rug", "a ladder", "a wicker basket", "a book",
    "a chess pawn", "a light bulb", "a radio", "a refrigerator", "a bathtub", "a mailbox", "a wheelbarrow",
    "a top hat", "a staircase", "an anvil", "a globe", "a cooking pot", "a pitcher", "a chandelier", "a crib",
]
# Written before any of the session-4 routing changes were tuned (issue 10 item 2) and never used to
# fit or choose anything: one new phrasing per category, and objects outside the categories, several
# of them next to a category in wording or use (a saucepan, a flashlight, a swordfish, a bench press).
NEW_HELD_OUT_IN = [
    "a wingback armchair", "a whiskey barrel", "a single bed with a wooden headboard", "a picnic bench",
    "a shelf unit for books", "a plastic water bottle", "a cereal bowl", "a filing cabinet", "a tall white candle",
    "a plastic garden chair", "a wooden fruit crate", "a computer desk", "an oak door with a brass handle",
    "a garden fence made of planks", "a clay pot with a plant", "a cottage with a chimney", "a desk lamp",
    "a tea mug", "a granite boulder", "a viking shield", "a loveseat", "a three-legged milking stool", "a katana",
    "a square kitchen table", "a garbage bin", "a birch tree", "a porcelain vase",
    "a cupboard for clothes with two doors",
]
NEW_HELD_OUT_OUT = [
    "a stapler", "a saucepan", "a flashlight", "a tablet computer", "a doorbell", "a swordfish", "a bottle opener",
    "a bench press", "a doormat", "a rocking horse", "a bird cage", "a tent", "a traffic cone", "a pair of scissors",
    "a toothbrush", "a screwdriver", "a basketball", "a shopping cart", "a playground slide", "a barbecue grill",
    "a microwave oven", "a vacuum cleaner", "a soup ladle", "a sunflower", "a coffee maker", "a chess board",
    "a helmet", "a bathroom scale", "a trumpet", "a candy bar",
]
ODD = ["une chaise en bois", "ein Holzstuhl", "木の椅子", "🪑", "🐉 dragon", "asdfgh qwerty", "!!!",
       ("a wooden chair with four legs and a slatted back, " * 20)[:1000],
       "a dragon with wings and a long tail, sitting on a rock, " * 17]


def features(matcher, prompts):
    """(similarity, lead over the runner-up, lead over the nearest counter-example) per prompt; a
    counter-example is left out of the bank for its own row."""
    rows = []
    for prompt in prompts:
        sims, embedding = matcher.similarities(prompt)
        top = np.sort(sims)[::-1]
        rows.append((top[0], top[0] - top[1], top[0] - matcher.counter_example(embedding, leave_out=prompt)[1]))
    return np.array(rows)


def fit(x: np.ndarray, y: np.ndarray, l2: float = 1e-3) -> tuple[float, float, float, float]:
    """Logistic regression by Newton's method on the features; returns (a, c, b, d) for
    ``a * (similarity - c) + b * lead + d * counter_lead``."""
    design = np.column_stack([x, np.ones(len(x))])
    w = np.zeros(design.shape[1])
    for _ in range(50):
        p = 1 / (1 + np.exp(-design @ w))
        grad = design.T @ (p - y) + l2 * w
        hess = design.T @ (design * (p * (1 - p))[:, None]) + l2 * np.eye(len(w))
        w -= np.linalg.solve(hess, grad)
    a, b, d, bias = w
    return float(a), float(-bias / a), float(b), float(d)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fit", action="store_true", help="refit the constants on the calibration lists")
    args = parser.parse_args()
    import torch
    torch.set_num_threads(1)
    from backend.procedural import prompt as prompt_module
    matcher = prompt_module.PromptMatcher(device="cpu")
    if args.fit:
        x = features(matcher, CALIBRATION_IN + CALIBRATION_OUT)
        y = np.array([1.0] * len(CALIBRATION_IN) + [0.0] * len(CALIBRATION_OUT))
        a, c, b, d = fit(x, y)
        print(f"fitted: SIM_WEIGHT, SIM_CENTRE, LEAD_WEIGHT, COUNTER_WEIGHT = {a:.1f}, {c:.3f}, {b:.1f}, {d:.1f}")
        z = a * (x[:, 0] - c) + b * x[:, 1] + d * x[:, 2]
        wrong = [p for p, zz, label in zip(CALIBRATION_IN + CALIBRATION_OUT, z, y) if (zz >= 0) != label]
        print(f"calibration, each counter-example left out of the bank: {len(y) - len(wrong)}/{len(y)} right"
              + "".join(f"\n    wrong: {p!r}" for p in wrong))
        prompt_module.SIM_WEIGHT, prompt_module.SIM_CENTRE, prompt_module.LEAD_WEIGHT = a, c, b
        prompt_module.COUNTER_WEIGHT = d
    print(f"constants: SIM_WEIGHT={prompt_module.SIM_WEIGHT} SIM_CENTRE={prompt_module.SIM_CENTRE} "
          f"LEAD_WEIGHT={prompt_module.LEAD_WEIGHT} COUNTER_WEIGHT={prompt_module.COUNTER_WEIGHT}")
    for label, ins, outs in (("calibration (counter-examples in the bank)", CALIBRATION_IN, CALIBRATION_OUT),
                             ("held-out", HELD_OUT_IN, HELD_OUT_OUT), ("held-out everyday", [], EVERYDAY_OUT),
                             ("new held-out", NEW_HELD_OUT_IN, NEW_HELD_OUT_OUT)):
        wrong = []
        for prompt, expected in [(p, True) for p in ins] + [(p, False) for p in outs]:
            match = matcher.match(prompt)
            if match.matched != expected:
                wrong.append(f"{prompt!r} -> {match.category} {match.confidence:.0%}")
        n_in, n_out = len(ins), len(outs)
        missed_in = sum(1 for w in wrong if any(w.startswith(repr(p)) for p in ins))
        print(f"{label}: {n_in - missed_in}/{n_in} in-category routed to procedural, "
              f"{n_out - (len(wrong) - missed_in)}/{n_out} out-of-category routed to the learned model")
        for line in wrong:
            print(f"    wrong: {line}")
    start = time.perf_counter()
    for prompt in ODD:
        match = matcher.match(prompt)
        print(f"odd {prompt[:40]!r:44s} ({len(prompt)} chars) -> {match.category} {match.confidence:.0%} "
              f"{'procedural' if match.matched else 'learned'}")
    print(f"match time: {(time.perf_counter() - start) / len(ODD) * 1000:.0f} ms per prompt (warm MiniLM)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
