"""The event log: append-only ``(time, kind, pod, node, detail)`` rows.

Only the Cluster API (:mod:`k8sim.cluster.api`) appends rows, in the same call that
changes the tables and publishes the watch event, so the log is in the order things
happened. Nothing is ever rewritten. Kinds (upstream Event reasons where one exists):
PodCreated, Scheduled, FailedScheduling, Preempting, Started, Killing, Completed,
Failed, Preempted, Dropped, NodeAdded, NodeUpdated, NodeRemoved, and the kubelet's
reports (ErrImagePull, ErrImageNeverPull, BackOff, ContainerTerminated, ImageGC).
"""

from __future__ import annotations

import pandas as pd


class EventLog:
    """Columns of the log as Python lists (cheap appends on the hot path); ``frame``
    turns them into the ``events`` DataFrame of a result."""

    def __init__(self) -> None:
        self.time: list[float] = []
        self.kind: list[str] = []
        self.pod: list[int] = []
        self.node: list[int] = []
        self.detail: list[str] = []

    def event(self, time: float, kind: str, pod: int, node: int, detail: str = "") -> None:
        """Append one row (``pod`` / ``node`` -1 when the row has none)."""
        self.time.append(time)
        self.kind.append(kind)
        self.pod.append(pod)
        self.node.append(node)
        self.detail.append(detail)

    def __len__(self) -> int:
        return len(self.time)

    def frame(self, pod_names: list[str], node_names: list[str]) -> pd.DataFrame:
        """The log as a DataFrame with pod and node names resolved."""
        pods = [pod_names[p] if p >= 0 else "" for p in self.pod]
        nodes = [node_names[n] if n >= 0 else "" for n in self.node]
        return pd.DataFrame(
            {
                "time": pd.Series(self.time, dtype="float64"),
                "kind": pd.Series(self.kind, dtype="category"),
                "pod": pd.Series(pods, dtype="string"),
                "node": pd.Series(nodes, dtype="string"),
                "detail": pd.Series(self.detail, dtype="string"),
            }
        )
