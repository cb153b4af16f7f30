"""Kiln backend: models."""
