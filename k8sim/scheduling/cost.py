"""How long the scheduler and the API server take: an optional cost model.

Off by default: scheduling takes no virtual time (or the constant
``scheduler.cycle_latency_s``). With ``scheduler.costModel`` each scheduling cycle
takes

    cycle_s = cycle_base_s + per_node_plugin_s * (visited * filters_run + scored * scores_run)

of virtual time, during which the scheduler (one loop, as upstream's ``ScheduleOne``)
schedules nothing else, where

- ``visited``: nodes the Filter phase evaluated. Upstream ``findNodesThatPassFilters``
  stops once ``numFeasibleNodesToFind`` nodes are feasible (``percentageOfNodesToScore``),
  so in a large cluster with room this is that number; when few nodes fit it is every
  node; a pod tried on its nominated node first (``evaluateNominatedNode``) that fits
  there visits one.
- ``filters_run`` / ``scores_run``: the Filter / Score plugins that ran for the pod
  (a plugin whose PreFilter / PreScore returns Skip does not run).
- ``scored``: the feasible nodes scored; 0 when fewer than two are feasible (upstream
  skips scoring then).

The decision is made from the cluster as the cycle starts (upstream schedules from a
snapshot taken then) and the pod is *assumed* on its node at once (its resources are
taken in the tables, as upstream's scheduler cache does at the end of the cycle; k8sim
takes them ``cycle_s`` earlier, which only components reading the tables during the
run can notice: the recorded times, and so the timeseries, are the Binding's). A failed
cycle's outcome (FailedScheduling, backoff, preemption) likewise happens at its start. The binding is asynchronous, as upstream's binding cycle: the scheduler moves on
after ``cycle_s``, and the pod is bound (``Scheduled``, the kubelet starts it) when the
``Binding`` call completes, ``bind_latency_s`` after it is sent. With ``client_qps`` the
calls pass a token bucket first (client-go's ``flowcontrol`` limiter over
``golang.org/x/time/rate``: ``client_qps`` tokens per second, at most ``client_burst``
stored; upstream's defaults are ``clientConnection.qps: 50`` and ``burst: 100``,
``SetDefaults_KubeSchedulerConfiguration`` in ``pkg/scheduler/apis/config/v1/defaults.go``).
A pod deleted while it is assumed ends there (Failed, with the deletion's reason).

Preset ``scheduler-perf``, calibrated to the throughput thresholds kube-scheduler's own
benchmark must meet (``test/integration/scheduler_perf/misc/performance-config.yaml``,
the ``SchedulingThroughput`` of the ``performance`` cases, in pods/s):

- ``SchedulingDaemonset/15000Nodes``: threshold 1100. Each pod's NodeAffinity
  ``matchFields`` narrow the Filter phase to one node (PreFilterResult) and one feasible
  node skips scoring, so a cycle is (almost) only its fixed cost:
  ``cycle_base_s = 1 / 1100`` s (the few node-plugin evaluations left, under 0.1% of
  it, are neglected).
- ``SchedulingBasic/5000Nodes_10000Pods``: threshold 680. Plain pods (cpu and memory
  requests) on 5000 nodes with room: ``numFeasibleNodesToFind(5000)`` = 500 nodes are
  visited and scored (the Scheduler Performance Tuning page: the adaptive default is 10%
  at 5000 nodes); in k8sim's ``kube-default`` such a pod runs 4 filters
  (NodeUnschedulable, TaintToleration, NodeAffinity, NodeResourcesFit) and 3 scores
  (TaintToleration, NodeResourcesFit, NodeResourcesBalancedAllocation). So
  ``1/680 = 1/1100 + per_node_plugin_s * (500 * 4 + 500 * 3)``, i.e.
  ``per_node_plugin_s = (1/680 - 1/1100) / 3500`` s (about 0.16 us: the wall time of one
  plugin on one node with upstream's 16-way ``parallelism``).

The thresholds are the lowest average throughput the benchmark accepts (its measured
averages are higher), on the benchmark's machines with an unthrottled client
(no ``client_qps``) and the in-process API server of the integration tests, so the
preset sets no bind latency: give ``bind_latency_s`` from your API server's
``apiserver_request_duration_seconds{verb="POST", subresource="binding"}`` (the
scalability SLO bounds single-object mutating calls at 1 s p99), and ``client_qps`` /
``client_burst`` when the scheduler runs with the default client limits.

Not modelled: PreFilter / PreScore work outside the per-node terms, the PostFilter
(preemption) search, queue operations, and scheduler-cache snapshot updates beyond the
fixed cost.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["PRESETS", "CostModel", "TokenBucket"]

#: Calibrated presets (see the module docstring for the derivation): name -> (cycle_base_s, per_node_plugin_s).
PRESETS: dict[str, tuple[float, float]] = {
    "scheduler-perf": (1 / 1100, (1 / 680 - 1 / 1100) / (500 * 4 + 500 * 3)),
}


class TokenBucket:
    """``golang.org/x/time/rate``'s reservation arithmetic (what client-go's rate limiter
    waits on): ``qps`` tokens per second, at most ``burst`` stored, starting full. Each
    call takes one token; a call that finds none waits until one has accrued (the
    balance may go negative, which is how later calls queue behind earlier ones)."""

    def __init__(self, qps: float, burst: int):
        if qps <= 0 or burst < 1:
            raise ValueError("a token bucket needs qps > 0 and burst >= 1")
        self.qps = float(qps)
        self.burst = int(burst)
        self.tokens = float(burst)
        self.last = 0.0

    def reserve(self, now: float) -> float:
        """Take a token for a call made at ``now``; returns when the call may go."""
        if now > self.last:
            self.tokens = min(float(self.burst), self.tokens + (now - self.last) * self.qps)
            self.last = now
        self.tokens -= 1.0
        if self.tokens >= 0:
            return now
        return self.last + (-self.tokens) / self.qps


@dataclass
class CostModel:
    """The cost model of one run (see the module docstring)."""

    cycle_base_s: float
    per_node_plugin_s: float
    bind_latency_s: float = 0.0
    client_qps: float | None = None
    client_burst: int = 1

    def __post_init__(self) -> None:
        self.bucket = TokenBucket(self.client_qps, self.client_burst) if self.client_qps is not None else None

    def cycle_s(self, visited: int, filters_run: int, scored: int, scores_run: int) -> float:
        """Virtual seconds one scheduling cycle takes."""
        return self.cycle_base_s + self.per_node_plugin_s * (visited * filters_run + scored * scores_run)

    def bound_at(self, sent: float) -> float:
        """When a Binding call sent at ``sent`` completes (after the client limiter, if
        any, and the API server's latency)."""
        go = self.bucket.reserve(sent) if self.bucket is not None else sent
        return go + self.bind_latency_s
