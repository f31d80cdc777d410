"""The per-pool image-disk series: disk use and image GC over time.

The kubelet contributes the raw material (:meth:`k8sim.runtime.kubelet.Kubelet.contribute`):
``image_disk_log`` (every change of a node's image-disk bytes: time, node, delta; a
node's starting level is its first delta, a removed node's bytes leave with a negative
one), ``image_disk_nodes`` (each node's pool, disk capacity and GC thresholds) and
``image_gc`` (one row per GC pass). :func:`image_disk_series` turns them into one row
per sampling bin and pool, integrating the step functions exactly over each bin
(:func:`~k8sim.metrics.timeseries.interval_integrals`), as the cluster timeseries does.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from k8sim.metrics.timeseries import interval_integrals

#: The series' columns, in order.
COLUMNS = ("time", "interval", "pool", "disk_used_bytes", "disk_capacity_bytes", "disk_use",
           "gc_high_percent", "gc_low_percent", "gc_passes", "gc_images_deleted", "gc_bytes_freed")


def image_disk_series(log: pd.DataFrame, nodes: pd.DataFrame, gc: pd.DataFrame | None,
                      created: np.ndarray, removed: np.ndarray, edges: np.ndarray) -> pd.DataFrame:
    """One row per bin ``[edges[k], edges[k+1])`` and node pool:

    - ``disk_used_bytes``: time-weighted mean of the bytes on the pool's nodes (present
      and downloading layers);
    - ``disk_capacity_bytes``: time-weighted mean of the pool's image disk (nodes that
      exist; 0 for an unlimited disk) and ``disk_use`` the ratio of the two (NaN
      without capacity). Thresholds apply per node: a pool at 80% on average can have
      nodes at the high threshold;
    - ``gc_high_percent`` / ``gc_low_percent``: the pool's thresholds;
    - ``gc_passes``, ``gc_images_deleted``, ``gc_bytes_freed``: image GC passes that
      started in the bin (periodic or before a pull), images they deleted, bytes freed.

    ``created`` / ``removed``: every node's lifetime (node table order).
    """
    if not len(nodes):
        return pd.DataFrame({c: [] for c in COLUMNS})
    pools = list(dict.fromkeys(nodes["pool"].tolist()))
    code = {p: k for k, p in enumerate(pools)}
    node_pool = nodes["pool"].map(code).to_numpy(dtype=np.int64)
    n_pools = len(pools)
    width = np.diff(edges)
    width_safe = np.where(width > 0, width, 1.0)

    # Used bytes: each delta is a step on [t, end).
    t = log["time"].to_numpy(dtype=np.float64)
    w = np.zeros((t.size, n_pools))
    if t.size:
        w[np.arange(t.size), node_pool[log["node"].to_numpy(dtype=np.int64)]] = log["delta"].to_numpy(dtype=np.float64)
    used = interval_integrals(t, np.full(t.size, np.inf), w, edges) / width_safe[:, None]

    # Capacity: each node's disk over its lifetime.
    k = len(nodes)
    node_ids = nodes["node"].to_numpy(dtype=np.int64)
    wc = np.zeros((k, n_pools))
    wc[np.arange(k), node_pool] = nodes["capacity_bytes"].to_numpy(dtype=np.float64)
    cap = interval_integrals(created[node_ids], removed[node_ids], wc, edges) / width_safe[:, None]

    n_bins = edges.size - 1
    passes = np.zeros((n_bins, n_pools), dtype=np.int64)
    deleted = np.zeros((n_bins, n_pools), dtype=np.int64)
    freed = np.zeros((n_bins, n_pools), dtype=np.int64)
    if gc is not None and len(gc):
        b = np.clip(np.searchsorted(edges, gc["time"].to_numpy(dtype=np.float64), side="right") - 1, 0, n_bins - 1)
        gp = gc["pool"].map(code).to_numpy(dtype=np.int64)
        np.add.at(passes, (b, gp), 1)
        np.add.at(deleted, (b, gp), gc["images_deleted"].to_numpy(dtype=np.int64))
        np.add.at(freed, (b, gp), gc["bytes_freed"].to_numpy(dtype=np.int64))

    first = nodes.groupby("pool", sort=False).first()
    frames = []
    for p, name in enumerate(pools):
        with np.errstate(invalid="ignore", divide="ignore"):
            use = np.where(cap[:, p] > 0, used[:, p] / np.where(cap[:, p] > 0, cap[:, p], 1.0), np.nan)
        frames.append(pd.DataFrame({
            "time": edges[:-1],
            "interval": width,
            "pool": pd.Series([name] * n_bins, dtype="string"),
            "disk_used_bytes": used[:, p],
            "disk_capacity_bytes": cap[:, p],
            "disk_use": use,
            "gc_high_percent": np.full(n_bins, int(first.loc[name, "gc_high_percent"]), dtype=np.int64),
            "gc_low_percent": np.full(n_bins, int(first.loc[name, "gc_low_percent"]), dtype=np.int64),
            "gc_passes": passes[:, p],
            "gc_images_deleted": deleted[:, p],
            "gc_bytes_freed": freed[:, p],
        }))
    return pd.concat(frames, ignore_index=True)
