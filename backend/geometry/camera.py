"""Pinhole and orthographic cameras in Blender's world frame (Z up, the front view looks along +Y).

A camera maps world points to pixel coordinates (x right, y down, pixel centres at +0.5) and a
positive depth along its viewing axis.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Camera:
    """``rotation`` (3,3) rows = camera right, up, backward axes in world; ``position`` (3,).

    ``fov_y`` in radians for perspective; ``ortho_height`` (world units visible vertically) for
    orthographic cameras (then fov_y is ignored).
    """

    rotation: np.ndarray
    position: np.ndarray
    width: int
    height: int
    fov_y: float = np.radians(40.0)
    ortho_height: float | None = None
    ortho_width: float | None = None

    @property
    def forward(self) -> np.ndarray:
        return -self.rotation[2]

    def to_camera(self, points: np.ndarray) -> np.ndarray:
        """World points -> camera frame (x right, y up, z backwards; visible points have z < 0)."""
        return (np.asarray(points, dtype=np.float64) - self.position) @ self.rotation.T

    def project(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Pixel coordinates (N,2) and depth (N,) of world points (depth <= 0: behind the camera)."""
        cam = self.to_camera(points)
        depth = -cam[:, 2]
        if self.ortho_height is not None:
            scale_y = self.height / self.ortho_height
            scale_x = self.width / (self.ortho_width or self.ortho_height * self.width / self.height)
            x, y = cam[:, 0] * scale_x, cam[:, 1] * scale_y
        else:
            focal = 0.5 * self.height / np.tan(0.5 * self.fov_y)
            safe = np.where(depth > 1e-9, depth, 1e-9)
            x, y = cam[:, 0] * focal / safe, cam[:, 1] * focal / safe
        return np.stack([x + 0.5 * self.width, 0.5 * self.height - y], axis=1), depth

    def view_directions(self, points: np.ndarray) -> np.ndarray:
        """Unit vectors from each point towards the camera."""
        if self.ortho_height is not None:
            return np.broadcast_to(-self.forward, np.shape(points)).copy()
        d = self.position - np.asarray(points, dtype=np.float64)
        return d / np.maximum(np.linalg.norm(d, axis=-1, keepdims=True), 1e-12)


def look_at(eye, target, width: int, height: int, up=(0.0, 0.0, 1.0), **lens) -> Camera:
    """A camera at ``eye`` looking at ``target`` with world ``up`` (Z by default)."""
    eye, target, up = (np.asarray(v, dtype=np.float64) for v in (eye, target, up))
    backward = eye - target
    backward /= np.linalg.norm(backward)
    if abs(float(np.dot(backward, up / np.linalg.norm(up)))) > 0.999:
        up = np.array([0.0, 1.0, 0.0])
    right = np.cross(up, backward)
    right /= np.linalg.norm(right)
    true_up = np.cross(backward, right)
    return Camera(np.stack([right, true_up, backward]), eye, width, height, **lens)


# Blender's numpad views: (direction from the object to the eye, image right axis, image up axis).
VIEWS = {
    "front": ((0, -1, 0), (1, 0, 0), (0, 0, 1)),
    "back": ((0, 1, 0), (-1, 0, 0), (0, 0, 1)),
    "right": ((1, 0, 0), (0, 1, 0), (0, 0, 1)),
    "left": ((-1, 0, 0), (0, -1, 0), (0, 0, 1)),
    "top": ((0, 0, 1), (1, 0, 0), (0, 1, 0)),
    "bottom": ((0, 0, -1), (1, 0, 0), (0, -1, 0)),
}


def box_view(view: str, low: np.ndarray, high: np.ndarray, width: int, height: int) -> Camera:
    """An orthographic Blender view (``VIEWS``) framing the box [low, high] exactly.

    The box's extent along the view's right axis fills the image width and along its up axis the
    height, so an image whose object fills the frame lines up with the mesh.
    """
    if view not in VIEWS:
        raise KeyError(f"unknown view {view!r}; use one of {', '.join(VIEWS)}")
    back, right, up = (np.asarray(v, dtype=np.float64) for v in VIEWS[view])
    low, high = np.asarray(low, dtype=np.float64), np.asarray(high, dtype=np.float64)
    center = 0.5 * (low + high)
    size = np.maximum(high - low, 1e-9)
    eye = center + back * (float(np.abs(size @ back)) / 2 + size.max() + 1.0)
    return Camera(np.stack([right, up, back]), eye, width, height,
                  ortho_height=float(np.abs(size @ up)), ortho_width=float(np.abs(size @ right)))


def front_orthographic(low: np.ndarray, high: np.ndarray, width: int, height: int) -> Camera:
    """Blender's front view (from -Y, looking along +Y) framing the box [low, high]."""
    return box_view("front", low, high, width, height)
