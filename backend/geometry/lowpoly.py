"""The compact game-asset look: QEM decimation, then triangles paired into quads by a matching
over the whole mesh (``quad_pairing``), then, in a second candidate, the triangles the matching
left joined in pairs by a cut across the quad strip between them, and in a third the decimated
triangles rebuilt as near-planar regions each cut into quads (``lowpoly_finish``). The face
budget is a hard ceiling: per candidate the triangle count is searched (secant steps on one
decimated copy) for the most faces that stay at or under the target. Candidates come with and
without MeshLab's planar quadrics; the closest one with ``QUAD_GOAL`` quads wins unless it strays
``ERROR_CAP`` times farther from the input than the closest of all (see ``_choose``). When
decimation alone cannot get under the target (many loose pieces, a tiny budget), the smallest
pieces are dropped, and a piece that alone exceeds the budget becomes its convex hull. Every
step that changed the input beyond decimation is noted. Runs in one killable child process."""
from __future__ import annotations

from functools import partial

import numpy as np

from backend.runtime import CancelToken, ProgressFn, no_progress

from .decimate import qem_decimate, subdivide_to
from .killable import call_in_child
from .lowpoly_finish import as_paired, joined, regions
from .polymesh import boundary_edge_count, compact
from .quad_pairing import pair_triangles
from .repair import component_labels, triangle_areas
from .surface_distance import SurfaceQuery, sample_surface

FIRST_TRIANGLE_FACTOR = 1.9  # well-paired meshes keep ~53% as many faces as triangles
PRE_FACTOR = 6  # the dense input is first decimated once to this many triangles per target face
BASE_FACTOR = 2.4  # one decimated copy at this many triangles per target face feeds every pass
PASSES = 8
CLOSE_ENOUGH = 0.97  # stop once the faces reach this share of the target
ERROR_SLACK = 1.15  # the decimation with more quads wins while its mean distance is within this factor
QUAD_GOAL = 0.8  # a result with this share of quads wins while its mean distance is within ERROR_CAP
ERROR_CAP = 2.5  # the cuts cost faces the decimation then lacks: 1.2-2.4x the mean distance measured
STRAY = 0.01  # share of the diagonal a decimated vertex may lie off the input


def _decimate_and_pair(v, t, goal, crease, notes, base, surface):
    planar, keep_borders = base
    dv, dt = qem_decimate(v, t, goal, True, notes, planar=planar, keep_borders=keep_borders)
    dv = _snap_strays(dv, surface)
    quads, rest = pair_triangles(dv, dt, crease=crease)
    return dv, dt, quads, rest


def _snap_strays(vertices, surface):
    """Vertices the collapse placed farther than ``STRAY`` of the diagonal from the input moved
    onto it (a leaf card's free border let one tip vertex of a 0 A.D. cedar fly 17% away)."""
    closest, _ = surface.closest_points(vertices)
    far = np.linalg.norm(closest - vertices, axis=1) > STRAY * np.linalg.norm(np.ptp(surface.vertices, axis=0))
    if far.any():
        vertices = vertices.copy()
        vertices[far] = closest[far]
    return vertices


def _search(v, t, target, crease, base, finish, surface):
    """The decimate-pair-``finish`` result with the most faces <= ``target`` (None when none was):
    (faces, vertices, triangles, quads, notes)."""
    best, lo, hi = None, 0, None
    goal = int(FIRST_TRIANGLE_FACTOR * target)
    for _ in range(PASSES):
        pass_notes: list[str] = []
        dv, dt, quads, rest = _decimate_and_pair(v, t, goal, crease, pass_notes, base, surface)
        fv, ft, fq = finish(dv, rest, quads, surface)
        faces = len(ft) + len(fq)
        if faces <= target:
            if best is None or faces > best[0]:
                best = (faces, fv, ft, fq, pass_notes)
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
    return best


def _mean_distance(points, to_input, v, t) -> float:
    """Two-sided mean distance between the input (``points`` on it, ``to_input`` its query) and
    the triangle mesh (``v``, ``t``)."""
    there = SurfaceQuery(v, t, samples=20_000).distance(points).mean()
    back = to_input.distance(sample_surface(v, t, 2000, 1)[0]).mean()
    return 0.5 * (there + back)


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


def _fan(tris: np.ndarray, quads: np.ndarray) -> np.ndarray:
    return np.concatenate([tris.reshape(-1, 3), quads[:, :3], quads[:, [0, 2, 3]]])


FINISHES = {"pair": as_paired, "join": joined, "regions": regions}
ONE_BASE = {"regions"}  # finishes tried on the first decimated base only (their cost)
CREASE_AWARE = {"regions"}  # finishes that merge faces themselves, so they must be told the crease angle


def _finished(kind, bases, target, crease, surface, notes):
    """Per decimated base: the ``kind`` result (``FINISHES``) with the most faces <= ``target``, as
    (kind, vertices, triangles, quads). A pairing that cannot get under the target is kept anyway
    (pieces are dropped later); the other kinds are then left out."""
    finish = partial(FINISHES[kind], crease=crease) if kind in CREASE_AWARE else FINISHES[kind]
    found = []
    for base, base_v, base_t in bases:
        best = _search(base_v, base_t, target, crease, base, finish, surface)
        if best is None and kind == "pair":  # triangles alone at the target: pairing can only lower the count
            dv, _, quads, rest = _decimate_and_pair(base_v, base_t, target, crease, [], base, surface)
            best = (0, dv, rest, quads, [])
        if best is not None:
            notes.extend(best[4])
            planar, keep_borders = base
            found.append((f"{kind}{'/planar' * planar}{'/free borders' * (not keep_borders)}", *best[1:4]))
    return found


def _candidates(vertices, triangles, target, crease, notes):
    """Every low-poly result tried for ``target``: [(kind, vertices, triangles, quads, mean distance)]."""
    v0, t0 = np.asarray(vertices, np.float64), np.asarray(triangles, np.int64)
    v, t = v0, t0
    if len(t) < FIRST_TRIANGLE_FACTOR * target:
        v, t = subdivide_to(v, t, int(FIRST_TRIANGLE_FACTOR * target) + 1)
    v, t = qem_decimate(v, t, PRE_FACTOR * target, True, planar=False)  # shared by every base below
    # MeshLab with and without planar quadrics: planar quadrics keep CAD creases (the bracket:
    # 0.1% vs 4.7% Hausdorff) but cost 3-10x the distance on marching-cubes hard-surface shapes;
    # open borders kept, and (on open inputs) free to move: a 0 A.D. amphora's 96-edge rim at 102
    # faces kept every rim vertex and fanned the rest (24% Hausdorff)
    borders = (True, False) if boundary_edge_count(t) else (True,)
    bases = [((planar, keep), *qem_decimate(v, t, int(BASE_FACTOR * target), True, planar=planar, keep_borders=keep))
             for keep in borders for planar in (False, True)]
    surface = SurfaceQuery(v0, t0, samples=20_000, thorough=False)
    points, _ = sample_surface(v0, t0, 4000, 0)
    found = [f for kind in FINISHES
             for f in _finished(kind, bases[:1] if kind in ONE_BASE else bases, target, crease, surface, notes)]
    return [(kind, rv, rt, rq, _mean_distance(points, surface, rv, _fan(rt, rq))) for kind, rv, rt, rq in found]


def lowpoly_mesh(vertices: np.ndarray, triangles: np.ndarray, target: int, preserve_sharp: bool = False,
                 sharp_angle: float = 30.0, notes: list[str] | None = None, keep_pieces: bool = False,
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Decimate, pair and cut to at most ``target`` faces in this process: (vertices, triangles, quads).
    ``keep_pieces`` keeps every piece even when they cannot fit (the count is then only aimed at)."""
    notes = notes if notes is not None else []
    target = max(int(target), 1)
    crease = sharp_angle if preserve_sharp else None
    found = _candidates(vertices, triangles, target, crease, notes)
    _, v, rest, quads, _ = _choose(found, notes)
    if len(quads) + len(rest) > target and not keep_pieces:
        rest, quads = _fit_pieces(v, rest, quads, target, notes)
    if len(quads) + len(rest) == 0:
        v, t = _hull(np.asarray(vertices, np.float64), triangles, target, notes)
        quads, rest = pair_triangles(v, t, crease=crease)
    both = np.concatenate([rest.reshape(-1), quads.reshape(-1)])
    used_v, inverse = compact(v, both)
    split = 3 * len(rest)
    return used_v, inverse[:split].reshape(-1, 3), inverse[split:].reshape(-1, 4)


def _choose(found, notes):
    """The closest candidate with at least ``QUAD_GOAL`` quads while its mean distance to the input
    is within ``ERROR_CAP`` of the closest one's; else the one with the most quads within
    ``ERROR_SLACK`` of the closest."""
    closest = min(f[4] for f in found)
    ratio = [len(f[3]) / max(len(f[2]) + len(f[3]), 1) for f in found]
    goal = [i for i, f in enumerate(found) if ratio[i] >= QUAD_GOAL and f[4] <= ERROR_CAP * closest + 1e-12]
    if goal:
        pick = min(goal, key=lambda i: found[i][4])
    else:
        pick = max((i for i, f in enumerate(found) if f[4] <= ERROR_SLACK * closest + 1e-12), key=lambda i: ratio[i])
    kind, v, rest, quads, error = found[pick]
    notes.append(f"lowpoly: {kind} kept ({len(quads)} quads, {len(rest)} triangles from a matching over the whole "
                 f"mesh; mean distance {error:.3g}; tried " + ", ".join(f"{f[0]} {f[4]:.3g} at {r:.2f} quads"
                                                                      for f, r in zip(found, ratio)) + ")")
    return found[pick]


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
