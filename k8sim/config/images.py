"""The ``images`` section (the image catalog: built-in, explicit and synthetic images)
and the kubelet's image settings of a node pool (pulls, image garbage collection).

Both apply only when the scenario has an ``images`` section (see README "Images, pulls
and restarts").
"""

from __future__ import annotations

from pydantic import Field, model_validator

from k8sim.config.base import Strict
from k8sim.config.distributions import Distribution
from k8sim.config.k8s_types import K8sModel
from k8sim.config.names import Seconds
from k8sim.config.resources import Quantity

__all__ = ["ImageCatalogSpec", "ImageLayer", "ImageSpec", "KubeletConfig", "SyntheticImages"]


class KubeletConfig(K8sModel):
    """kubelet settings of a pool's nodes (upstream ``KubeletConfiguration`` names and
    defaults, ``pkg/kubelet/apis/config/v1beta1/defaults.go``). The image settings apply
    only when the scenario has an ``images`` section; the pod-worker timing applies
    whenever pods go through the runtime model (images, restarts, crashes)."""

    # Pull one image at a time per node (FIFO); false: up to maxParallelImagePulls at once.
    serialize_image_pulls: bool = Field(default=True, alias="serializeImagePulls")
    # Concurrent pulls per node when serializeImagePulls is false (absent = unlimited).
    max_parallel_image_pulls: int | None = Field(default=None, alias="maxParallelImagePulls", ge=1)
    # Token bucket of pulls per node: refill rate (0 = no limit) and size; a pull that
    # finds no token fails ("pull QPS exceeded") and backs off, as upstream.
    registry_pull_qps: float = Field(default=5.0, alias="registryPullQPS", ge=0)
    registry_burst: int = Field(default=10, alias="registryBurst", ge=0)
    # Image GC: at this disk usage (%) delete least recently used images down to the low one.
    image_gc_high_threshold_percent: int = Field(default=85, alias="imageGCHighThresholdPercent", ge=0, le=100)
    image_gc_low_threshold_percent: int = Field(default=80, alias="imageGCLowThresholdPercent", ge=0, le=100)
    # Images younger than this are never garbage-collected (upstream imageMinimumGCAge, 2m).
    image_minimum_gc_age_s: Seconds = Field(default=120.0, alias="imageMinimumGCAgeSeconds")
    # Seconds between image GC passes (upstream ImageGCPeriod, 5m, a constant in
    # pkg/kubelet/kubelet.go; 0 = GC only when a pull needs room). With
    # imageGCHighThresholdPercent 100 image GC is off altogether, as upstream.
    image_gc_period_s: Seconds = Field(default=300.0, alias="imageGCPeriodSeconds")
    # Pod worker timing (upstream constants of pkg/kubelet/kubelet.go and pod_workers.go,
    # not KubeletConfiguration fields): after a sync that failed (a pull in
    # ImagePullBackOff, ErrImageNeverPull; a container in CrashLoopBackOff when the
    # setting below is false) the pod is synced again after backOffPeriod (10 s)
    # stretched by a random factor in [1, 1 + jitter) (workerBackOffPeriodJitterFactor
    # 0.5), so retries happen at the first sync after their back-off expires. Period 0:
    # exactly at expiry; jitter 0: on an exact grid.
    pod_worker_backoff_period_s: Seconds = Field(default=10.0, alias="podWorkerBackOffPeriodSeconds")
    pod_worker_jitter_factor: float = Field(default=0.5, alias="podWorkerJitterFactor", ge=0, le=10)
    # A container in CrashLoopBackOff: since Kubernetes 1.35 the pod worker requeues the
    # pod for the back-off's expiry (the sync error carries it, kubecontainer.BackoffError),
    # after wait.Jitter(min(remaining, syncFrequency), jitter); false: as up to 1.34, the
    # 10 s grid above. Pull back-off always uses the grid.
    pod_worker_requeue_at_backoff_expiry: bool = Field(default=True, alias="podWorkerRequeueAtBackOffExpiry")
    # KubeletConfiguration syncFrequency (1m): the longest a pod worker waits between syncs.
    sync_frequency_s: Seconds = Field(default=60.0, alias="syncFrequencySeconds", gt=0)

    @model_validator(mode="after")
    def _check(self) -> KubeletConfig:
        if self.serialize_image_pulls and (self.max_parallel_image_pulls or 1) > 1:
            raise ValueError("maxParallelImagePulls must be 1 or unset when serializeImagePulls is true")
        if self.image_gc_low_threshold_percent >= self.image_gc_high_threshold_percent:
            raise ValueError("imageGCLowThresholdPercent must be less than imageGCHighThresholdPercent")
        if self.registry_pull_qps > 0 and self.registry_burst == 0:
            # Upstream accepts it, and then every pull fails with "pull QPS exceeded".
            raise ValueError("registryBurst 0 with registryPullQPS > 0 would fail every pull; "
                             "set registryBurst >= 1 (or registryPullQPS 0 for no limit)")
        return self


class ImageLayer(Strict):
    """One layer: a content digest and its compressed size. Images listing the same
    digest share the layer (a node downloads it once)."""

    digest: str = Field(min_length=1)  # e.g. sha256:...; one digest = one content
    size: Quantity  # compressed bytes: 29780905, 30Mi, 1.2G


class ImageSpec(Strict):
    """An image of the catalog: a name and its layers, base layer first."""

    name: str = Field(min_length=1)  # e.g. myorg/app:1.2 (no tag means :latest)
    layers: list[ImageLayer] = Field(min_length=1)


class SyntheticImages(Strict):
    """``count`` images named ``<name_prefix>-<i>``: each stacks ``base_layers_per_image``
    layers drawn from a pool of ``base_layers`` shared base layers, then
    ``layers_per_image`` layers of its own. Sizes in MB (10^6 bytes), drawn once per run."""

    count: int = Field(ge=1)  # number of images
    base_layers: int = Field(default=0, ge=0)  # size of the shared pool
    base_layers_per_image: int = Field(default=0, ge=0)  # pool layers per image (distinct)
    layers_per_image: int = Field(default=1, ge=0)  # own layers per image
    layer_size: Distribution  # MB per own layer
    base_layer_size: Distribution | None = None  # MB per pool layer (default: layer_size)
    name_prefix: str = Field(default="synthetic", min_length=1)

    @model_validator(mode="after")
    def _check(self) -> SyntheticImages:
        if self.base_layers_per_image > self.base_layers:
            raise ValueError(
                f"base_layers_per_image ({self.base_layers_per_image}) exceeds base_layers ({self.base_layers})"
            )
        if self.base_layers_per_image + self.layers_per_image == 0:
            raise ValueError("an image needs at least one layer (base_layers_per_image + layers_per_image >= 1)")
        return self


class ImageCatalogSpec(Strict):
    """The images pods can use (turns on image pulls; see README "Images, pulls and
    restarts"): the built-in official images, explicit images, synthetic images."""

    builtin: bool = True  # include k8sim's built-in catalog (nginx, redis, python, ...)
    catalog: list[ImageSpec] = []  # explicit images
    synthetic: SyntheticImages | None = None  # generated images
    # Bytes per second the registry serves to the whole cluster (absent = no limit).
    registry_bandwidth: Quantity | None = None

    @model_validator(mode="after")
    def _check(self) -> ImageCatalogSpec:
        if self.registry_bandwidth is not None and self.registry_bandwidth <= 0:
            raise ValueError("registry_bandwidth must be > 0 (bytes per second; omit it for no limit)")
        return self
