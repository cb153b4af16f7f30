"""Helpers for the Blender add-on tests: real bpy, the built extension, a real backend process."""
