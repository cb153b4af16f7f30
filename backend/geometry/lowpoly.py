"""The compact game-asset look: QEM decimation, then triangles paired into quads where they
form clean quads. The face count after pairing is steered to the target in a few passes, each
decimating the previous (smaller) result further, all in one killable child process."""
from __future__ import annotations

import numpy as np

from backend.runtime import CancelToken, ProgressFn, no_progress

from .decimate import qem_decimate, subdivide_to
from .killable import call_in_child
from .polymesh import compact
from .quad_pairing import pair_triangles

FIRST_TRIANGLE_FACTOR = 1.9  # paired meshes keep ~55-75% as many faces as triangles; start above


def lowpoly_mesh(vertices: np.ndarray, triangles: np.ndarray, target: int, preserve_sharp: bool = False,
                 sharp_angle: float = 30.0, notes: list[str] | None = None,
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Decimate and pair to about ``target`` faces in this process: (vertices, triangles, quads)."""
    notes = notes if notes is not None else []
    v, t = np.asarray(vertices, np.float64), np.asarray(triangles, np.int64)
    target = max(int(target), 1)
    if len(t) < FIRST_TRIANGLE_FACTOR * target:
        v, t = subdivide_to(v, t, int(FIRST_TRIANGLE_FACTOR * target) + 1)
    max_fold = sharp_angle if preserve_sharp else 40.0
    goal = int(FIRST_TRIANGLE_FACTOR * target)
    pass_notes: list[str] = []
    for _ in range(6):
        pass_notes = []
        v, t = qem_decimate(v, t, goal, preserve_sharp, pass_notes)
        quads, rest = pair_triangles(v, t, max_fold=max_fold)
        faces = len(quads) + len(rest)
        if faces <= 1.04 * target or len(t) > 1.1 * goal:
            break  # close enough, or decimation cannot go lower
        goal = max(int(len(t) * target / faces), 1)
    notes.extend(pass_notes)
    notes.append(f"decimated to {len(t)} triangles, paired {len(quads)} into quads")
    both = np.concatenate([rest.reshape(-1), quads.reshape(-1)])
    used_v, inverse = compact(v, both)
    split = 3 * len(rest)
    return used_v, inverse[:split].reshape(-1, 3), inverse[split:].reshape(-1, 4)


def lowpoly_child(vertices: np.ndarray, triangles: np.ndarray, target_faces: int, preserve_sharp: bool,
                  sharp_angle: float) -> dict[str, np.ndarray]:
    """(Runs in the child.) :func:`lowpoly_mesh` with its notes as a string array."""
    notes: list[str] = []
    v, t, q = lowpoly_mesh(vertices, triangles, target_faces, preserve_sharp, sharp_angle, notes)
    return {"vertices": v, "triangles": t, "quads": q, "notes": np.array(notes, dtype=str)}


def lowpoly(vertices: np.ndarray, triangles: np.ndarray, target: int, preserve_sharp: bool = False,
            sharp_angle: float = 30.0, report: list[str] | None = None, cancel: CancelToken | None = None,
            progress: ProgressFn = no_progress) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`lowpoly_mesh` in a killable child process: (vertices, triangles, quads)."""
    out = call_in_child(__name__, "lowpoly_child", {"vertices": vertices, "triangles": triangles},
                        {"target_faces": int(target), "preserve_sharp": bool(preserve_sharp),
                         "sharp_angle": float(sharp_angle)}, cancel=cancel, progress=progress,
                        stage="decimating", expected_seconds=1 + len(triangles) / 50_000)
    if report is not None:
        report.extend(str(n) for n in out["notes"])
    return out["vertices"], out["triangles"], out["quads"]
