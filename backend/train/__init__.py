"""Kiln backend: train."""
