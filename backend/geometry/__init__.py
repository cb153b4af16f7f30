"""Kiln backend: geometry."""
