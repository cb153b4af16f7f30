"""Segmentation quality: mean IoU after optimal (Hungarian) matching of predicted to true parts.

Part ids are arbitrary, so predicted part i is matched one-to-one to the true part that
maximises the total IoU (scipy's ``linear_sum_assignment``). Faces are weighted by area when
areas are given, so a finely tessellated part does not count more than a coarse one.
"""
from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment


def iou_matrix(predicted: np.ndarray, truth: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """(P, T) matrix of weighted IoU between every predicted and every true part."""
    predicted = np.asarray(predicted, dtype=np.int64)
    truth = np.asarray(truth, dtype=np.int64)
    if predicted.shape != truth.shape:
        raise ValueError(f"label arrays differ in shape: {predicted.shape} vs {truth.shape}")
    if predicted.size and (predicted.min() < 0 or truth.min() < 0):
        raise ValueError("labels must be non-negative")
    w = np.ones(len(truth)) if weights is None else np.asarray(weights, dtype=np.float64)
    num_p = int(predicted.max(initial=-1)) + 1
    num_t = int(truth.max(initial=-1)) + 1
    inter = np.bincount(predicted * num_t + truth, weights=w, minlength=num_p * num_t).reshape(num_p, num_t)
    size_p = inter.sum(axis=1)
    size_t = inter.sum(axis=0)
    union = size_p[:, None] + size_t[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def matched_miou(predicted: np.ndarray, truth: np.ndarray, weights: np.ndarray | None = None) -> float:
    """Mean IoU over the true parts present, each matched to at most one predicted part.

    Unmatched true parts (fewer predictions than truths) count as IoU 0, and so do extra
    predicted parts: the mean is over max(#predicted, #true) parts.
    """
    ious = iou_matrix(predicted, truth, weights)
    present_p = np.bincount(np.asarray(predicted, dtype=np.int64), minlength=ious.shape[0]) > 0
    present_t = np.bincount(np.asarray(truth, dtype=np.int64), minlength=ious.shape[1]) > 0
    ious = ious[present_p][:, present_t]
    if ious.size == 0:
        return 0.0
    rows, cols = linear_sum_assignment(-ious)
    return float(ious[rows, cols].sum() / max(ious.shape))
