"""One module per object category; each defines ``CATEGORY`` (see ``backend/procedural/registry.py``)."""
