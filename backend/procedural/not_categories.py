"""Prompts for objects the procedural engine has no category for: the matcher's counter-examples.

A prompt's nearest category phrase can be close although it names another object (MiniLM puts
"a teapot" next to "a coffee mug", "a cooking pot" next to "a flower pot"). The matcher also
measures how close the prompt lies to these counter-examples; the calibrated confidence
(``backend/procedural/prompt.py``) weighs the category's lead over the nearest counter-example.
The same list is the out-of-category half of the calibration data that ``bench/routing.py --fit``
fits the confidence on (each prompt left out of the bank while its own feature is computed).
Never put a prompt of the routing bench's held-out lists here.
"""
from __future__ import annotations

NOT_CATEGORIES = [
    "a dragon", "a car", "a spaceship", "a cat", "a robot", "a teapot", "a human head", "an airplane",
    "a bicycle", "a dog", "a guitar", "a helicopter", "a skull", "a horse", "a banana", "a computer monitor",
    "a smartphone", "a castle tower", "a pirate ship", "a mushroom", "a teddy bear", "a rocket", "a tank",
    "an elephant", "a treasure chest", "a sports car", "a wizard hat", "a laptop", "a fire hydrant",
    "a motorcycle", "a piano", "a toilet", "a shoe", "a backpack", "an umbrella", "a hammer",
    # everyday objects (issue 10: the even half of a list of 48; the odd half is held out)
    "a wine glass", "a spoon", "a kitchen knife", "a frying pan", "a wall clock", "a pillow", "a window",
    "a bucket", "a suitcase", "a pencil", "a key", "a desk fan", "a television", "a washing machine", "a sink",
    "a birdhouse", "a watering can", "a picture frame", "a water well", "a gravestone", "a jar", "a lantern",
    "a hammock",
]
