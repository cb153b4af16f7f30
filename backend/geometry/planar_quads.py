"""Hard-surface low poly as quads by construction: near-planar regions, simplified borders, each
region's polygon cut into quads.

The faces of a (decimated) triangle mesh are grown into regions whose normals stay within
``angle`` of the region's first face (flat sides, bevel strips, the facets of a curve). Two
neighbouring regions whose polygons have an odd number of corners (each would keep a triangle)
may merge into one even one (``merged_odd_regions``). The borders between regions run from corner to corner (a vertex where three regions meet, or
an open border meets a region border); each border is simplified (Douglas-Peucker within ``tol``),
so a straight crease keeps only its ends. Every vertex that is neither a corner nor kept on a
border goes. Each region is then one flat polygon (holes bridged to the outside), cut by a
dynamic programme over its diagonals into the fewest faces, quads first: convex quads with no
corner over ``MAX_CORNER``, a triangle only where no quad fits (an odd corner count). Neighbouring
regions share their simplified borders, so the result is closed where the input was.
"""
from __future__ import annotations

from collections import deque

import numpy as np

from .quad_pairing import corner_angles
from .sharp_features import face_normals, interior_edges

MAX_CORNER = 170.0  # degrees: a quad's largest corner
MAX_POLYGON = 48  # corners of a region's polygon the quad programme takes (it is O(n^4))
MERGE_ROUNDS = 3  # rounds of merging odd regions (a merge can change its neighbours' corner counts)


def planar_regions(vertices: np.ndarray, triangles: np.ndarray, angle: float) -> np.ndarray:
    """Region label per triangle: grown from the largest unlabelled one across edges to faces
    whose normal is within ``angle`` degrees of the first face's."""
    normals = face_normals(vertices, triangles)
    area = np.linalg.norm(np.cross(vertices[triangles[:, 1]] - vertices[triangles[:, 0]],
                                   vertices[triangles[:, 2]] - vertices[triangles[:, 0]]), axis=1)
    _, pairs = interior_edges(triangles)
    neighbours: list[list[int]] = [[] for _ in range(len(triangles))]
    for a, b in pairs.tolist():
        neighbours[a].append(b)
        neighbours[b].append(a)
    cos = np.cos(np.radians(angle))
    labels = np.full(len(triangles), -1, np.int64)
    region = 0
    for seed in np.argsort(-area, kind="stable").tolist():
        if labels[seed] >= 0:
            continue
        labels[seed] = region
        queue = deque([seed])
        while queue:
            f = queue.popleft()
            for g in neighbours[f]:
                if labels[g] < 0 and normals[g] @ normals[seed] >= cos:
                    labels[g] = region
                    queue.append(g)
        region += 1
    return labels


def _simplified(points: np.ndarray, tol: float) -> list[int]:
    """Douglas-Peucker: indices kept along an open polyline (both ends always)."""
    keep = {0, len(points) - 1}
    stack = [(0, len(points) - 1)]
    while stack:
        i, j = stack.pop()
        if j <= i + 1:
            continue
        seg = points[j] - points[i]
        rel = points[i + 1:j] - points[i]
        length = np.linalg.norm(seg)
        if length > 0:
            dist = np.linalg.norm(np.cross(rel, seg / length), axis=1)
        else:
            dist = np.linalg.norm(rel, axis=1)
        k = int(np.argmax(dist))
        if dist[k] > tol:
            keep.add(i + 1 + k)
            stack += [(i, i + 1 + k), (i + 1 + k, j)]
    return sorted(keep)


def kept_vertices(vertices: np.ndarray, triangles: np.ndarray, labels: np.ndarray, tol: float) -> np.ndarray:
    """Which vertices stay: the corners of the region borders, and the border vertices the
    borders' simplification keeps (a border that would come out as the same edge as another
    keeps its farthest vertex too)."""
    edges = np.sort(triangles[:, [0, 1, 1, 2, 2, 0]].reshape(-1, 2), axis=1)
    face = np.repeat(np.arange(len(triangles)), 3)
    unique, inverse = np.unique(edges, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    first = np.full(len(unique), -1)
    first[inverse[::-1]] = face[::-1]
    count = np.bincount(inverse, minlength=len(unique))
    differ = np.zeros(len(unique), bool)
    np.logical_or.at(differ, inverse, labels[face] != labels[first[inverse]])
    border = unique[(count == 1) | differ | (count > 2)]
    graph: dict[int, list[int]] = {}
    for a, b in border.tolist():
        graph.setdefault(a, []).append(b)
        graph.setdefault(b, []).append(a)
    regions_at: dict[int, set[int]] = {}
    for f, tri in enumerate(triangles.tolist()):
        for x in tri:
            if x in graph:
                regions_at.setdefault(x, set()).add(int(labels[f]))
    corner = {x for x, nb in graph.items() if len(nb) != 2 or len(regions_at[x]) >= 3}
    keep = np.zeros(len(vertices), bool)
    keep[list(corner)] = True
    seen: set[tuple[int, int]] = set()
    spans: dict[tuple[int, int], list[list[int]]] = {}

    def walk(start: int, nxt: int) -> list[int]:
        chain = [start, nxt]
        seen.add((min(start, nxt), max(start, nxt)))
        while chain[-1] not in corner and chain[-1] != start:
            a, b = graph[chain[-1]]
            step = a if a != chain[-2] else b
            seen.add((min(chain[-1], step), max(chain[-1], step)))
            chain.append(step)
        return chain

    chains = [walk(x, y) for x in sorted(corner) for y in graph[x] if (min(x, y), max(x, y)) not in seen]
    for x in sorted(graph):  # closed borders with no corner on them
        for y in graph[x]:
            if (min(x, y), max(x, y)) not in seen:
                loop = walk(x, y)
                far = int(np.argmax(np.linalg.norm(vertices[loop] - vertices[x], axis=1)))
                keep[[x, loop[far]]] = True
                chains += [loop[:far + 1], loop[far:]]
    for chain in chains:
        kept = [chain[i] for i in _simplified(vertices[chain], tol)]
        keep[kept] = True
        if len(kept) == 2 or kept[0] == kept[-1]:
            spans.setdefault((min(kept[0], kept[-1]), max(kept[0], kept[-1])), []).append(chain)
    for twins in spans.values():
        for chain in twins if len(twins) > 1 or twins[0][0] == twins[0][-1] else []:
            inner = chain[1:-1]
            if inner:
                ends = vertices[[chain[0], chain[-1]]]
                gap = np.linalg.norm(vertices[inner] - ends[0], axis=1) + np.linalg.norm(vertices[inner] - ends[1], axis=1)
                keep[inner[int(np.argmax(gap))]] = True
    return keep


def _loops(triangles: np.ndarray) -> list[list[int]] | None:
    """The boundary loops of a set of triangles, following their winding (None if tangled)."""
    directed = triangles[:, [0, 1, 1, 2, 2, 0]].reshape(-1, 2)
    inner = {(a, b) for a, b in directed.tolist()}
    nxt: dict[int, int] = {}
    for a, b in directed.tolist():
        if (b, a) not in inner:
            if a in nxt:
                return None
            nxt[a] = b
    loops = []
    while nxt:
        start = next(iter(nxt))
        loop = [start]
        x = nxt.pop(start)
        while x != start:
            if x not in nxt:
                return None
            loop.append(x)
            x = nxt.pop(x)
        loops.append(loop)
    return loops


def _cross(o: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    return float((a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0]))


def _segments_cross(p: np.ndarray, q: np.ndarray, a: np.ndarray, b: np.ndarray) -> bool:
    """Whether segment p-q meets segment a-b anywhere but at a shared end point."""
    d1, d2, d3, d4 = _cross(a, b, p), _cross(a, b, q), _cross(p, q, a), _cross(p, q, b)
    if d1 * d2 < 0 and d3 * d4 < 0:
        return True
    for o, s, t, d in ((a, p, q, d3), (b, p, q, d4), (p, a, b, d1), (q, a, b, d2)):
        if d == 0 and not (np.array_equal(o, s) or np.array_equal(o, t)) \
                and (o - s) @ (t - s) > 0 and (o - t) @ (s - t) > 0:
            return True
    return False


def _in_cone(pts: np.ndarray, i: int, j: int) -> bool:
    n = len(pts)
    prev, here, nxt, there = pts[(i - 1) % n], pts[i], pts[(i + 1) % n], pts[j]
    if _cross(prev, here, nxt) >= 0:  # convex corner
        return _cross(here, there, prev) > 0 and _cross(there, here, nxt) > 0
    return not (_cross(here, there, nxt) >= 0 and _cross(there, here, prev) >= 0)


def _valid_diagonals(pts: np.ndarray) -> np.ndarray:
    n = len(pts)
    ok = np.zeros((n, n), bool)
    for i in range(n):
        ok[i, (i + 1) % n] = ok[(i + 1) % n, i] = True
    for i in range(n):
        for j in range(i + 2, n):
            if (i == 0 and j == n - 1) or np.array_equal(pts[i], pts[j]):
                continue
            if not (_in_cone(pts, i, j) and _in_cone(pts, j, i)):
                continue
            if any(_segments_cross(pts[i], pts[j], pts[k], pts[(k + 1) % n])
                   for k in range(n) if k not in (i, j) and (k + 1) % n not in (i, j)):
                continue
            ok[i, j] = ok[j, i] = True
    return ok


def _corner_max(pts: np.ndarray) -> float:
    """Largest corner (degrees) of a 2D polygon given counter-clockwise; 360 if not convex."""
    prev = np.roll(pts, 1, axis=0) - pts
    nxt = np.roll(pts, -1, axis=0) - pts
    if (nxt[:, 0] * prev[:, 1] - nxt[:, 1] * prev[:, 0] <= 0).any():
        return 360.0
    cos = np.einsum("ij,ij->i", prev, nxt) / np.maximum(np.linalg.norm(prev, axis=1) * np.linalg.norm(nxt, axis=1), 1e-300)
    return float(np.degrees(np.arccos(np.clip(cos.min(), -1, 1))))


def cut_polygon(pts: np.ndarray, ids: list[int], space: np.ndarray | None = None) -> list[tuple[int, ...]] | None:
    """The fewest faces (quads first) covering the counter-clockwise polygon ``pts`` (2D), as
    tuples of ``ids``; None when it cannot be cut. With ``space`` (the corners in 3D), a quad
    must also be convex with no corner over ``MAX_CORNER`` there (a merged region is not flat)."""
    n = len(pts)
    if n < 3 or n > MAX_POLYGON:
        return None
    ok = _valid_diagonals(pts)
    inf = float("inf")
    cost = np.full((n, n), inf)
    pick: dict[tuple[int, int], tuple[int, ...]] = {}
    for i in range(n - 1):
        cost[i, i + 1] = 0.0

    def face_cost(corners: tuple[int, ...]) -> float:
        if len({ids[c] for c in corners}) < len(corners):
            return inf
        worst = _corner_max(pts[list(corners)])
        if len(corners) == 4:
            if space is not None and worst <= MAX_CORNER:
                angles, convex = corner_angles(space[list(corners)], np.arange(4)[None])
                worst = max(worst, float(angles.max()) if convex[0] else 360.0)
            return inf if worst > MAX_CORNER else 1.0 + 0.2 * max(worst - 90.0, 0.0) / 90.0
        return 1.0 + 0.3 * max(worst - 90.0, 0.0) / 90.0 if worst < 360.0 else inf

    for span in range(2, n):
        for i in range(n - span):
            j = i + span
            if not ok[i, j]:
                continue
            best, choice = inf, None
            for k in range(i + 1, j):
                if ok[i, k] and ok[k, j] and cost[i, k] + cost[k, j] < best:
                    c = face_cost((i, k, j)) + cost[i, k] + cost[k, j]
                    if c < best:
                        best, choice = c, (i, k, j)
                for m in range(k + 1, j):
                    if ok[i, k] and ok[k, m] and ok[m, j]:
                        rest = cost[i, k] + cost[k, m] + cost[m, j]
                        if rest + 1.0 < best:
                            c = face_cost((i, k, m, j)) + rest
                            if c < best:
                                best, choice = c, (i, k, m, j)
            cost[i, j] = best
            if choice is not None:
                pick[(i, j)] = choice
    if cost[0, n - 1] == inf:
        return None
    faces, stack = [], [(0, n - 1)]
    while stack:
        i, j = stack.pop()
        if j == i + 1:
            continue
        corners = pick[(i, j)]
        faces.append(tuple(ids[c] for c in corners))
        stack += list(zip(corners[:-1], corners[1:]))
    return faces


def _bridged(loops: list[np.ndarray], ids: list[list[int]]) -> tuple[np.ndarray, list[int]] | None:
    """One weakly simple polygon from an outer loop and holes: each hole joined to the polygon by
    its shortest segment that crosses no edge."""
    outer = int(np.argmax([_area(p) for p in loops]))
    pts, out_ids = loops[outer], list(ids[outer])
    holes = sorted((i for i in range(len(loops)) if i != outer), key=lambda i: -np.max(loops[i][:, 0]))
    all_edges = [(p[k], p[(k + 1) % len(p)]) for p in loops for k in range(len(p))]
    for h in holes:
        hp = loops[h]
        pairs = sorted(((np.linalg.norm(pts[a] - hp[b]), a, b) for a in range(len(pts)) for b in range(len(hp))))
        for _, a, b in pairs:
            if not any(_segments_cross(pts[a], hp[b], s, t) for s, t in all_edges):
                break
        else:
            return None
        order = [(b + k) % len(hp) for k in range(len(hp))] + [b]
        pts = np.concatenate([pts[:a + 1], hp[order], pts[a:]])
        out_ids = out_ids[:a + 1] + [ids[h][k] for k in order] + out_ids[a:]
    return pts, out_ids


def _area(pts: np.ndarray) -> float:
    return 0.5 * float(np.sum(pts[:, 0] * np.roll(pts[:, 1], -1) - np.roll(pts[:, 0], -1) * pts[:, 1]))


def _region_normals(v: np.ndarray, t: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Per region: the sum of its triangles' area-weighted normals."""
    normals = np.zeros((int(labels.max()) + 1, 3))
    np.add.at(normals, labels, np.cross(v[t[:, 1]] - v[t[:, 0]], v[t[:, 2]] - v[t[:, 0]]))
    return normals


def merged_odd_regions(v: np.ndarray, t: np.ndarray, labels: np.ndarray, tol: float, angle: float) -> np.ndarray:
    """Labels with neighbouring regions of an odd corner count merged two by two (normals within
    ``angle``, the most parallel first): an odd polygon keeps a triangle, two merged odd ones make
    an even one that can be all quads, in one face fewer."""
    cos = np.cos(np.radians(angle))
    for _ in range(MERGE_ROUNDS):
        keep = kept_vertices(v, t, labels, tol)
        count = int(labels.max()) + 1
        edges = t[:, [0, 1, 1, 2, 2, 0]].reshape(-1, 2)
        region = np.repeat(labels, 3)
        corners = np.zeros(count, np.int64)
        border = {}
        for (a, b), r in zip(edges.tolist(), region.tolist()):
            border[(a, b)] = r
        on_border = [set() for _ in range(count)]
        pairs = set()
        for (a, b), r in border.items():
            other = border.get((b, a))
            if other != r:
                on_border[r].update((a, b))
                if other is not None:
                    pairs.add((min(r, other), max(r, other)))
        for r in range(count):
            corners[r] = sum(keep[x] for x in on_border[r])
        n = _region_normals(v, t, labels)
        n /= np.maximum(np.linalg.norm(n, axis=1), 1e-300)[:, None]
        odd = corners % 2 == 1
        ranked = sorted(((float(n[a] @ n[b]), a, b) for a, b in pairs if odd[a] and odd[b]), reverse=True)
        target = np.arange(count)
        used = np.zeros(count, bool)
        for similar, a, b in ranked:
            if similar >= cos and not used[a] and not used[b]:
                used[[a, b]] = True
                target[b] = a
        if not used.any():
            break
        _, labels = np.unique(target[labels], return_inverse=True)
    return labels


def _region_faces(v: np.ndarray, mine: np.ndarray, keep: np.ndarray, normal: np.ndarray
                  ) -> list[tuple[int, ...]] | None:
    """One region's polygon (its kept vertices, holes bridged) cut into faces; None if it cannot be."""
    loops = _loops(mine)
    if loops is None:
        return None
    loops = [[x for x in loop if keep[x]] for loop in loops]
    if any(len(loop) < 3 for loop in loops):
        return None
    n = normal / max(np.linalg.norm(normal), 1e-300)
    u = np.cross(n, [1.0, 0, 0] if abs(n[0]) < 0.9 else [0, 1.0, 0])
    u /= np.linalg.norm(u)
    w = np.cross(n, u)
    flat = [np.stack([v[loop] @ u, v[loop] @ w], axis=1) for loop in loops]
    joined = _bridged(flat, loops) if len(flat) > 1 else (flat[0], loops[0])
    if joined is None or _area(joined[0]) <= 0:
        return None
    return cut_polygon(*joined, v[joined[1]])


def planar_quads(vertices: np.ndarray, triangles: np.ndarray, angle: float, tol: float, merge_angle: float = 0.0
                 ) -> tuple[np.ndarray, np.ndarray, int]:
    """(triangles (T,3), quads (Q,4), regions kept as they were) over ``vertices``, the mesh
    rebuilt region by region. A region whose polygon cannot be cut (it touches itself, folds over
    in its plane, has too many corners) keeps its triangles and all their vertices, and the
    regions around it are cut again with those vertices on their borders."""
    v = np.asarray(vertices, np.float64)
    t = np.asarray(triangles, np.int64)
    labels = merged_odd_regions(v, t, planar_regions(v, t, angle), tol, merge_angle)
    count = int(labels.max()) + 1
    normals = _region_normals(v, t, labels)
    simplified = kept_vertices(v, t, labels, tol)
    as_is = np.zeros(count, bool)
    while True:
        keep = simplified.copy()
        keep[t[as_is[labels]].reshape(-1)] = True
        faces: list[tuple[int, ...]] = [tuple(f) for f in t[as_is[labels]].tolist()]
        failed = []
        for region in np.flatnonzero(~as_is).tolist():
            cut = _region_faces(v, t[labels == region], keep, normals[region])
            if cut is None:
                failed.append(region)
            else:
                faces += cut
        if not failed:
            break
        as_is[failed] = True
    tris = np.array([f for f in faces if len(f) == 3], np.int64).reshape(-1, 3)
    quads = np.array([f for f in faces if len(f) == 4], np.int64).reshape(-1, 4)
    return tris, quads, int(as_is.sum())
