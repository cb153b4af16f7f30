"""Multi-label graph cut: alpha-expansion (Boykov, Veksler & Zabih 2001) on scipy's max-flow.

Minimises sum_p D[p, l_p] + sum_(p,q) w_pq [l_p != l_q] (a Potts model). Each expansion move
is one s-t min cut, built with the Kolmogorov-Zabih construction and solved by
``scipy.sparse.csgraph.maximum_flow`` (Dinic), so no extra compiled dependency is needed.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import breadth_first_order, maximum_flow

_SCALE = 1000.0  # max-flow needs integer capacities


def potts_energy(labels: np.ndarray, unary: np.ndarray, pairs: np.ndarray, weights: np.ndarray) -> float:
    """The energy alpha-expansion minimises, for tests and for picking the best result."""
    data = float(unary[np.arange(len(labels)), labels].sum())
    smooth = float(weights[labels[pairs[:, 0]] != labels[pairs[:, 1]]].sum())
    return data + smooth


def _min_cut_sink_side(num: int, source_cap: np.ndarray, sink_cap: np.ndarray,
                       pairs: np.ndarray, pair_cap: np.ndarray) -> np.ndarray:
    """Solve one binary cut over ``num`` nodes; True where a node ends on the sink side (x=1)."""
    s, t = num, num + 1
    nodes = np.arange(num)
    rows = np.concatenate([np.full(num, s), nodes, pairs[:, 0]])
    cols = np.concatenate([nodes, np.full(num, t), pairs[:, 1]])
    caps = np.concatenate([source_cap, sink_cap, pair_cap])
    keep = caps > 0
    rows, cols, caps = rows[keep], cols[keep], caps[keep]
    graph = csr_matrix((caps.astype(np.int32), (rows, cols)), shape=(num + 2, num + 2))
    graph.sum_duplicates()
    result = maximum_flow(graph, s, t)
    residual = graph - result.flow
    residual.data = np.maximum(residual.data, 0)
    residual.eliminate_zeros()
    reached = breadth_first_order(residual, s, directed=True, return_predecessors=False)
    on_source = np.zeros(num + 2, dtype=bool)
    on_source[reached] = True
    return ~on_source[:num]


def alpha_expansion(unary: np.ndarray, pairs: np.ndarray, weights: np.ndarray, labels: np.ndarray | None = None,
                    sweeps: int = 3, check: Callable[[], None] | None = None) -> np.ndarray:
    """Labels (N,) minimising the Potts energy; ``unary`` (N,K), ``pairs`` (E,2), ``weights`` (E,)."""
    num, num_labels = unary.shape
    labels = np.argmin(unary, axis=1) if labels is None else labels.copy()
    scale = _SCALE / max(float(np.abs(unary).max(initial=0)), float(weights.max(initial=0)), 1e-12)
    d = np.round(unary * scale).astype(np.int64)
    w = np.round(weights * scale).astype(np.int64)
    p, q = pairs[:, 0], pairs[:, 1]
    best = potts_energy(labels, d, pairs, w)
    for _ in range(sweeps):
        improved = False
        for alpha in range(num_labels):
            if check is not None:
                check()
            # x_p = 0: take alpha; x_p = 1: keep the current label.
            e0 = d[:, alpha].copy()
            e1 = d[np.arange(num), labels].copy()
            e1[labels == alpha] = e0[labels == alpha]
            lp, lq = labels[p], labels[q]
            pa, qa = lp == alpha, lq == alpha
            # Pairwise table E(x_p, x_q): A=E00, B=E01, C=E10, D=E11.
            A = np.zeros_like(w)
            B = np.where(qa, 0, w)  # p alpha, q keeps l_q
            C = np.where(pa, 0, w)  # p keeps l_p, q alpha
            Dm = np.where(lp != lq, w, 0)
            # B+C-A-D >= 0 always for Potts, so the move is graph-representable.
            np.add.at(e1, p, C - A)
            np.add.at(e1, q, Dm - C)
            coupling = B + C - A - Dm
            shift = np.minimum(e0, e1)
            src = e1 - shift   # paid when x=1 (sink side): edge s->p
            snk = e0 - shift   # paid when x=0 (source side): edge p->t
            keep = src - snk  # normalise so one of the two is zero
            source_cap = np.maximum(keep, 0)
            sink_cap = np.maximum(-keep, 0)
            stays = _min_cut_sink_side(num, source_cap, sink_cap, pairs, coupling)
            candidate = np.where(stays, labels, alpha)
            energy = potts_energy(candidate, d, pairs, w)
            if energy < best:
                best, labels, improved = energy, candidate, True
        if not improved:
            break
    return labels
