"""The compact game-asset look: QEM decimation, then triangles paired into quads by a matching
over the whole mesh (``quad_pairing``). The face budget is a hard ceiling: the triangle count
is searched (secant steps on one decimated copy) for the most faces that stay at or under the
target; when decimation alone cannot get there (many loose pieces, a tiny budget), the smallest
pieces are dropped, and a piece that alone exceeds the budget becomes its convex hull. Every
step that changed the input beyond decimation is noted. Runs in one killable child process."""
from __future__ import annotations

import numpy as np

from backend.runtime import CancelToken, ProgressFn, no_progress

from .decimate import qem_decimate, subdivide_to
from .killable import call_in_child
from .polymesh import compact
from .quad_pairing import pair_triangles
from .repair import component_labels, triangle_areas
from .surface_distance import SurfaceQuery, sample_surface

FIRST_TRIANGLE_FACTOR = 1.9  # well-paired meshes keep ~53% as many faces as triangles
PRE_FACTOR = 6  # the dense input is first decimated once to this many triangles per target face
BASE_FACTOR = 2.4  # one decimated copy at this many triangles per target face feeds every pass
PASSES = 8
CLOSE_ENOUGH = 0.97  # stop once the faces reach this share of the target
ERROR_SLACK = 1.15  # the decimation with more quads wins while its mean distance is within this factor


def _decimate_and_pair(v, t, goal, preserve_sharp, crease, notes, planar):
    dv, dt = qem_decimate(v, t, goal, True, notes, planar=planar)
    quads, rest = pair_triangles(dv, dt, crease=crease)
    return dv, dt, quads, rest


def _search(v, t, target, preserve_sharp, crease, notes, planar):
    """The decimate-and-pair result with the most faces <= ``target`` (None when none was)."""
    best, lo, hi = None, 0, None
    goal = int(FIRST_TRIANGLE_FACTOR * target)
    for _ in range(PASSES):
        pass_notes: list[str] = []
        dv, dt, quads, rest = _decimate_and_pair(v, t, goal, preserve_sharp, crease, pass_notes, planar)
        faces = len(quads) + len(rest)
        if faces <= target:
            if best is None or faces > best[0]:
                best = (faces, dv, dt, quads, rest, pass_notes)
            if faces >= CLOSE_ENOUGH * target or len(dt) < goal:
                break  # close enough, or the whole input already fits
            lo = max(lo, goal)
        else:
            if len(dt) > 1.05 * goal:
                break  # decimation cannot go lower
            hi = goal if hi is None else min(hi, goal)
        step = int(goal * target / faces)
        goal = step if faces > target else max(step, goal + 1)
        if hi is not None:
            goal = min(goal, hi - 1)
        if goal <= lo:
            break
    if best is not None:
        notes.extend(best[5])
    return best


def _closest(results, v, t, notes):
    """Of the candidate results, the one with the most quads among those whose two-sided mean
    distance to the input (``v``, ``t``) is within ``ERROR_SLACK`` of the closest one's. Planar
    quadrics keep CAD creases (the bracket: 0.1% vs 4.7% Hausdorff) but cost 3-10x the distance
    on marching-cubes hard-surface shapes at a few hundred faces."""
    points, _ = sample_surface(v, t, 4000, 0)
    to_input = SurfaceQuery(v, t, samples=20_000)
    errors = []
    for _, dv, dt, _, _, _ in results:
        there = SurfaceQuery(dv, dt, samples=20_000).distance(points).mean()
        back = to_input.distance(sample_surface(dv, dt, 2000, 1)[0]).mean()
        errors.append(0.5 * (there + back))
    limit = ERROR_SLACK * min(errors) + 1e-12
    ratio = [len(r[3]) / max(len(r[3]) + len(r[4]), 1) for r in results]
    pick = max((i for i in range(len(results)) if errors[i] <= limit), key=lambda i: ratio[i])
    notes.append(f"lowpoly: decimation {'with' if pick else 'without'} planar quadrics kept "
                 f"(mean distance {errors[pick]:.3g} vs {errors[1 - pick]:.3g}, quad ratio {ratio[pick]:.2f})")
    return results[pick]


def _components(tris: np.ndarray, quads: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Component label of every triangle and every quad (quads joined through their diagonal)."""
    joined = np.concatenate([tris, quads[:, :3], quads[:, [0, 2, 3]]])
    _, labels = component_labels(n, joined)
    return labels[:len(tris)], labels[len(tris):len(tris) + len(quads)]


def _fit_pieces(v, tris, quads, target, notes):
    """Keep whole pieces, largest area first, while their faces fit in ``target``."""
    t_label, q_label = _components(tris, quads, len(v))
    count = int(max(t_label.max(initial=-1), q_label.max(initial=-1)) + 1)
    faces = np.bincount(t_label, minlength=count) + np.bincount(q_label, minlength=count)
    area = np.bincount(t_label, triangle_areas(v, tris), minlength=count)
    area += np.bincount(q_label, triangle_areas(v, quads[:, :3]) + triangle_areas(v, quads[:, [0, 2, 3]]),
                        minlength=count)
    keep = np.zeros(count, bool)
    used = 0
    for c in np.argsort(-area, kind="stable"):
        if used + faces[c] <= target:
            keep[c] = True
            used += faces[c]
    notes.append(f"budget: {count - keep.sum()} of {count} pieces dropped (smallest first) to stay within "
                 f"{target} faces")
    return tris[keep[t_label]], quads[keep[q_label]]


def _hull(v, t, target, notes):
    """The convex hull of everything, decimated to ``target`` triangles: the last resort."""
    import trimesh

    hull = trimesh.convex.convex_hull(v)
    hv, ht = qem_decimate(np.asarray(hull.vertices, np.float64), np.asarray(hull.faces, np.int64), target)
    notes.append(f"budget: no piece fits in {target} faces; the convex hull stands in ({len(ht)} triangles)")
    return hv, ht


def lowpoly_mesh(vertices: np.ndarray, triangles: np.ndarray, target: int, preserve_sharp: bool = False,
                 sharp_angle: float = 30.0, notes: list[str] | None = None, keep_pieces: bool = False,
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Decimate and pair to at most ``target`` faces in this process: (vertices, triangles, quads).
    ``keep_pieces`` keeps every piece even when they cannot fit (the count is then only aimed at)."""
    notes = notes if notes is not None else []
    v, t = np.asarray(vertices, np.float64), np.asarray(triangles, np.int64)
    target = max(int(target), 1)
    if len(t) < FIRST_TRIANGLE_FACTOR * target:
        v, t = subdivide_to(v, t, int(FIRST_TRIANGLE_FACTOR * target) + 1)
    v, t = qem_decimate(v, t, PRE_FACTOR * target, True, planar=False)  # shared by both below
    crease = sharp_angle if preserve_sharp else None
    results = []
    for planar in (False, True):  # MeshLab with and without planar quadrics: see _closest
        base_v, base_t = qem_decimate(v, t, int(BASE_FACTOR * target), True, planar=planar)
        best = _search(base_v, base_t, target, preserve_sharp, crease, notes, planar)
        if best is None:  # triangles alone at the target: pairing can only lower the count
            pass_notes: list[str] = []
            best = (0, *_decimate_and_pair(base_v, base_t, target, preserve_sharp, crease, pass_notes, planar),
                    pass_notes)
            notes.extend(pass_notes)
        results.append(best)
    best = _closest(results, v, t, notes)
    _, v, t, quads, rest = best[:5]
    notes.append(f"lowpoly: decimated to {len(t)} triangles, {len(quads)} quads by matching the whole mesh")
    if len(quads) + len(rest) > target and not keep_pieces:
        rest, quads = _fit_pieces(v, rest, quads, target, notes)
    if len(quads) + len(rest) == 0:
        v, t = _hull(np.asarray(vertices, np.float64), triangles, target, notes)
        quads, rest = pair_triangles(v, t, crease=crease)
    both = np.concatenate([rest.reshape(-1), quads.reshape(-1)])
    used_v, inverse = compact(v, both)
    split = 3 * len(rest)
    return used_v, inverse[:split].reshape(-1, 3), inverse[split:].reshape(-1, 4)


def lowpoly_child(vertices: np.ndarray, triangles: np.ndarray, target_faces: int, preserve_sharp: bool,
                  sharp_angle: float, keep_pieces: bool = False) -> dict[str, np.ndarray]:
    """(Runs in the child.) :func:`lowpoly_mesh` with its notes as a string array."""
    notes: list[str] = []
    v, t, q = lowpoly_mesh(vertices, triangles, target_faces, preserve_sharp, sharp_angle, notes, keep_pieces)
    return {"vertices": v, "triangles": t, "quads": q, "notes": np.array(notes, dtype=str)}


def lowpoly(vertices: np.ndarray, triangles: np.ndarray, target: int, preserve_sharp: bool = False,
            sharp_angle: float = 30.0, report: list[str] | None = None, cancel: CancelToken | None = None,
            progress: ProgressFn = no_progress, keep_pieces: bool = False,
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`lowpoly_mesh` in a killable child process: (vertices, triangles, quads)."""
    out = call_in_child(__name__, "lowpoly_child", {"vertices": vertices, "triangles": triangles},
                        {"target_faces": int(target), "preserve_sharp": bool(preserve_sharp),
                         "sharp_angle": float(sharp_angle), "keep_pieces": bool(keep_pieces)},
                        cancel=cancel, progress=progress, stage="decimating", expected_seconds=1 + len(triangles) / 50_000)
    if report is not None:
        report.extend(str(n) for n in out["notes"])
    return out["vertices"], out["triangles"], out["quads"]
