"""Kiln backend: procedural."""
