"""Helpers for the platform tests: sample meshes, a server subprocess, a test-only op."""
