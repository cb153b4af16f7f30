"""Kiln backend: server, jobs, ops, models and geometry. Never imported by the Blender add-on."""
