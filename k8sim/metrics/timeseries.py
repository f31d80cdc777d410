"""Time-weighted series computed after the run from lifecycle intervals.

Every quantity the timeseries reports (requested resources, allocatable, pending and
running pods) is a sum of step functions, one per pod or node, each on for a half-open
interval ``[start, end)``. Integrating those exactly over sampling bins gives
time-weighted averages without a sampling process ticking during the run.
"""

from __future__ import annotations

import numpy as np


def interval_integrals(
    starts: np.ndarray, ends: np.ndarray, weights: np.ndarray, edges: np.ndarray
) -> np.ndarray:
    """Integral over each bin ``[edges[i], edges[i+1])`` of ``sum_j w_j 1[s_j <= t < e_j]``.

    ``weights`` is ``[M]`` or ``[M, K]`` (K series at once); intervals with a NaN start
    are ignored, NaN/inf ends are clipped to the last edge. Returns ``[B]`` or ``[B, K]``
    with ``B = len(edges) - 1``.
    """
    w = np.asarray(weights)
    if w.dtype.kind not in "fiub":
        w = w.astype(np.float64)
    squeeze = w.ndim == 1
    if squeeze:
        w = w[:, None]
    ok = ~np.isnan(starts)
    s = starts[ok]
    e = np.where(np.isnan(ends[ok]), np.inf, ends[ok])
    e = np.minimum(e, edges[-1])
    s = np.minimum(s, edges[-1])
    t = np.concatenate([s, e])
    del s, e
    order = np.argsort(t, kind="stable")
    t = t[order]
    dt = np.diff(t)
    k = np.searchsorted(t, edges, side="right") - 1
    has = k >= 0
    kk = k[has]
    since = edges[has] - t[kk]
    del t
    # One series at a time: the same additions in the same order as over all K columns
    # at once (a cumulative sum runs down each column on its own), with the [2M]
    # temporaries of one series alive instead of [2M, K] ones (a million pods' requests
    # made the timeseries the largest step of a result). Integer weights are converted
    # one column at a time (the same float64 values as converting all first), and the
    # steps write into two [2M] buffers reused by every series: the same operations on
    # the same values in the same order (an in-place cumulative sum runs as one into a
    # new array), so the same bits.
    out = np.empty((edges.size - 1, w.shape[1]))
    m2 = order.size
    buf = np.empty(m2)
    level = np.empty(m2)
    for j in range(w.shape[1]):
        wj = w[ok, j].astype(np.float64, copy=False)
        half = wj.size
        buf[:half] = wj
        np.negative(wj, out=buf[half:])  # buf = concatenate([wj, -wj])
        del wj
        np.take(buf, order, out=level)
        np.cumsum(level, out=level)  # level on [t_k, t_{k+1})
        # F(t_k) = integral from -inf to t_k, in buf.
        f = buf
        if m2:
            f[0] = 0.0
        if m2 > 1:
            np.multiply(level[:-1], dt, out=f[1:])
            np.cumsum(f[1:], out=f[1:])
        f_edges = np.zeros(edges.size)
        f_edges[has] = f[kk] + level[kk] * since
        out[:, j] = np.diff(f_edges)
    return out[:, 0] if squeeze else out


def bin_edges(start: float, end: float, interval: float) -> np.ndarray:
    """Edges ``start, start+interval, ..., end`` (the last bin may be shorter)."""
    if end <= start:
        return np.array([start, start + interval])
    n = int(np.ceil((end - start) / interval - 1e-9))
    edges = start + interval * np.arange(n + 1)
    edges[-1] = end
    return edges
