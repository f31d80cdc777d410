"""The image catalog: images as ordered stacks of content-addressed layers.

An image is a list of layers, base layer first; a layer is a digest and a compressed
size in bytes. Two images that list the same digest share that layer: a node that has
pulled one of them downloads only the other's remaining layers. Everything downstream
(the node layer store, pulls, ImageLocality) works on integer ids: layer ``l`` has
``layer_sizes[l]``, image ``i`` has the layer ids ``image_layers[i]``.

A scenario's catalog is the union of three sources (``images:`` in the scenario):

- the **built-in catalog** (``builtin: true``, the default): official Docker images with
  real compressed layer sizes, shipped as ``k8sim/data/images.json``;
- **explicit images** (``catalog:``), each a list of ``{digest, size}`` layers;
- **synthetic images** (``synthetic:``): ``count`` images, each stacking layers drawn from
  a shared pool of base layers and then layers of its own, with sizes drawn from
  distributions (in MB, 10^6 bytes) on the ``image-catalog`` stream.

Image names are normalised as the scheduler's ImageLocality does
(``normalizedImageName``): a name without a tag or digest gets ``:latest``, so
``image: nginx`` means ``nginx:latest``.

The built-in catalog
--------------------
``k8sim/data/images.json`` is generated from the calibration table
``official_images_amd64.csv`` (compiled from ``docker-library/repo-info``: per-image
compressed layer sizes of the ``linux/amd64`` manifest, numbers only) by::

    python -m k8sim.runtime.catalog path/to/official_images_amd64.csv --out k8sim/data/images.json

The table has no layer digests, and the published digests of layers that are the same
content differ between images built on different days. The table's README notes that
nginx, redis and python:slim share the ~29.8 MB Debian (trixie) base layer; the
generator gives that base layer **one digest** in all three images (listed in
:data:`SHARED_BASES`), with the median of the three published sizes, so pulling nginx
on a node makes a later redis pull skip 29.8 MB, as on a real node whose images were
built from the same base. Every other layer gets a digest of its own. Digests are
synthetic (``sha256`` of a k8sim-specific string): stable identifiers, not registry
digests.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import statistics
import sys
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from k8sim.config.quantity import to_units

if TYPE_CHECKING:
    from k8sim.config.images import ImageCatalogSpec

#: Bytes in the MB unit of synthetic layer sizes (decimal, as registries report).
MB = 10**6

#: Base layers shared by content between built-in images (see the module docstring):
#: name -> the images whose first layer it is.
SHARED_BASES: dict[str, tuple[str, ...]] = {
    "debian-trixie-slim-base": ("nginx:latest", "redis:latest", "python:slim"),
}

_BUILTIN_FILE = "images.json"


def normalize_image_name(name: str) -> str:
    """Upstream ``normalizedImageName``: append ``:latest`` when the name has no tag
    (its last ``:`` is not after its last ``/``); digests (``name@sha256:...``) are kept."""
    if name.rfind(":") <= name.rfind("/"):
        return name + ":latest"
    return name


def default_pull_policy(name: str) -> str:
    """Upstream defaulting of ``imagePullPolicy``: ``Always`` for the ``:latest`` tag (or
    no tag), else ``IfNotPresent`` (a digest reference is ``IfNotPresent``)."""
    if "@" in name:
        return "IfNotPresent"
    return "Always" if normalize_image_name(name).endswith(":latest") else "IfNotPresent"


@dataclass
class Catalog:
    """Layers and images by integer id (built by :class:`CatalogBuilder`).

    Built once per run from the scenario's ``images:`` section (:func:`build_catalog`)
    and read-only afterwards: the image store, the puller and ImageLocality index their
    arrays with these ids. Invariants: one layer per digest, with one size; one image
    per normalised name (``index`` maps it to the id); ``image_layers[i]`` lists distinct
    layer ids, base first; ``image_sizes[i]`` is the sum of those layers' sizes (shared
    layers count in each image that has them; :meth:`unique_size` counts them once).
    """

    layer_digests: list[str] = field(default_factory=list)
    layer_sizes: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    image_names: list[str] = field(default_factory=list)
    #: Layer ids of each image, base first (a digest listed twice counts once).
    image_layers: list[tuple[int, ...]] = field(default_factory=list)
    #: Compressed size of each image: the sum of its layers' sizes.
    image_sizes: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    #: Where each image came from: "builtin", "catalog" or "synthetic".
    image_sources: list[str] = field(default_factory=list)
    index: dict[str, int] = field(default_factory=dict)

    @property
    def n_layers(self) -> int:
        return len(self.layer_digests)

    @property
    def n_images(self) -> int:
        return len(self.image_names)

    def id_of(self, name: str) -> int | None:
        """The image id of ``name`` (normalised), or None."""
        return self.index.get(normalize_image_name(name))

    def unique_size(self, images: list[int] | tuple[int, ...]) -> int:
        """Bytes of the distinct layers of ``images`` together (shared layers once)."""
        layers = {layer for i in images for layer in self.image_layers[i]}
        return int(sum(int(self.layer_sizes[layer]) for layer in layers))


class CatalogError(ValueError):
    """A catalog that cannot be built; ``problems`` are (field path, message) pairs.

    Raised by :meth:`CatalogBuilder.build` with every problem found, not only the first
    (a digest given two sizes, an image name defined twice or taken by a built-in
    image), each at its path in the scenario (e.g. ``images.catalog[2].layers[0].size``)
    so that all of them are reported at once.
    """

    def __init__(self, problems: list[tuple[str, str]]):
        self.problems = problems
        super().__init__("; ".join(f"{p}: {m}" for p, m in problems))


class CatalogBuilder:
    """Accumulates layers (by digest) and images (by normalised name).

    Used once per catalog: the built-in, explicit and synthetic sources add to it in
    that order, so ids follow first appearance. A repeated digest reuses its layer id;
    a conflict is recorded in ``problems`` rather than raised, and :meth:`build` raises
    :class:`CatalogError` with all of them, or returns the immutable :class:`Catalog`.
    """

    def __init__(self) -> None:
        self._layer_index: dict[str, int] = {}
        self._digests: list[str] = []
        self._sizes: list[int] = []
        self._names: list[str] = []
        self._layers: list[tuple[int, ...]] = []
        self._sources: list[str] = []
        self._index: dict[str, int] = {}
        self._image_where: dict[str, str] = {}
        self.problems: list[tuple[str, str]] = []

    def layer(self, digest: str, size: int, where: str) -> int:
        lid = self._layer_index.get(digest)
        if lid is None:
            lid = len(self._digests)
            self._layer_index[digest] = lid
            self._digests.append(digest)
            self._sizes.append(int(size))
        elif self._sizes[lid] != int(size):
            self.problems.append(
                (where, f"layer {digest} has size {int(size)} here but {self._sizes[lid]} elsewhere "
                        "(one digest is one content: its size cannot differ)")
            )
        return lid

    def image(self, name: str, layers: list[int], source: str, where: str) -> None:
        key = normalize_image_name(name)
        if key in self._index:
            self.problems.append((where, f"image {key!r} is defined twice (also at {self._image_where[key]})"))
            return
        seen: dict[int, None] = {}
        for layer in layers:
            seen.setdefault(layer, None)
        self._index[key] = len(self._names)
        self._image_where[key] = where
        self._names.append(key)
        self._layers.append(tuple(seen))
        self._sources.append(source)

    def build(self) -> Catalog:
        if self.problems:
            raise CatalogError(self.problems)
        sizes = np.array(self._sizes, dtype=np.int64)
        image_sizes = np.array([int(sizes[list(ls)].sum()) if ls else 0 for ls in self._layers], dtype=np.int64)
        return Catalog(
            layer_digests=list(self._digests),
            layer_sizes=sizes,
            image_names=list(self._names),
            image_layers=list(self._layers),
            image_sizes=image_sizes,
            image_sources=list(self._sources),
            index=dict(self._index),
        )


# ------------------------------------------------------------------- built-in catalog


def builtin_data() -> dict[str, Any]:
    """The parsed ``k8sim/data/images.json``."""
    text = resources.files("k8sim").joinpath("data", _BUILTIN_FILE).read_text(encoding="utf-8")
    return json.loads(text)


def add_builtin(builder: CatalogBuilder) -> None:
    """Add every built-in image to ``builder``."""
    for img in builtin_data()["images"]:
        ids = [builder.layer(d, s, "images.builtin") for d, s in img["layers"]]
        builder.image(img["name"], ids, "builtin", "images.builtin")


def _digest(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def generate_builtin(csv_path: Path) -> dict[str, Any]:
    """The built-in catalog document from the calibration CSV (see the module docstring)."""
    with csv_path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    sizes = {r["image"]: [int(x) for x in r["layer_compressed_bytes"].split(";")] for r in rows}
    shared: dict[str, tuple[str, int]] = {}  # image -> (digest, size) of its shared base layer
    shared_doc = {}
    for base, members in SHARED_BASES.items():
        present = [i for i in members if i in sizes]
        if not present:
            continue
        size = int(statistics.median_low(sizes[i][0] for i in present))
        digest = _digest(f"k8sim-builtin-catalog/shared/{base}")
        for i in present:
            shared[i] = (digest, size)
        shared_doc[digest] = {
            "name": base,
            "images": present,
            "size": size,
            "published_sizes": {i: sizes[i][0] for i in present},
        }
    images = []
    for row in rows:
        name = row["image"]
        layers = []
        for k, size in enumerate(sizes[name]):
            if k == 0 and name in shared:
                layers.append(list(shared[name]))
            else:
                layers.append([_digest(f"k8sim-builtin-catalog/{name}/{k}"), size])
        if int(row["num_layers"]) != len(layers):
            raise ValueError(f"{csv_path.name}: {name}: num_layers {row['num_layers']} != {len(layers)} sizes")
        images.append(
            {
                "name": normalize_image_name(name),
                "platform": row["platform"],
                "published_total_compressed_bytes": int(row["total_compressed_bytes"]),
                "source": f"{row['source_repo']}:{row['source_path']}@{row['source_commit']}",
                "layers": layers,
            }
        )
    return {
        "format": 1,
        "description": (
            "Official Docker images (linux/amd64): compressed layer sizes in bytes, base layer first, "
            "from docker-library/repo-info via official_images_amd64.csv. Digests are synthetic "
            "(k8sim-specific sha256), not registry digests. Base layers that the source notes are the "
            "same content (see shared_layers) have one digest, with the median of the published sizes."
        ),
        "generated_by": "python -m k8sim.runtime.catalog official_images_amd64.csv --out k8sim/data/images.json",
        "shared_layers": shared_doc,
        "images": images,
    }


# ------------------------------------------------------------------ synthetic catalog


def add_synthetic(builder: CatalogBuilder, spec: Any, rng: np.random.Generator) -> None:
    """Add ``spec.count`` synthetic images (``SyntheticImages``) drawn from ``rng``.

    Pool layers and own layers are drawn in one fixed order (pool sizes, then per image:
    its pool layers, then its own layer sizes), so the catalog depends only on the seed
    and the spec.
    """
    base_dist = spec.base_layer_size or spec.layer_size
    prefix = spec.name_prefix
    pool = []
    if spec.base_layers:
        base_sizes = np.rint(base_dist.sample(rng, spec.base_layers) * MB).astype(np.int64)
        for k, size in enumerate(base_sizes.tolist()):
            pool.append(builder.layer(_digest(f"k8sim-synthetic/{prefix}/base/{k}"), size, "images.synthetic"))
    for i in range(spec.count):
        chosen = []
        if spec.base_layers_per_image:
            picks = rng.choice(spec.base_layers, size=spec.base_layers_per_image, replace=False)
            chosen = [pool[int(k)] for k in picks]
        own = np.rint(spec.layer_size.sample(rng, spec.layers_per_image) * MB).astype(np.int64)
        for k, size in enumerate(own.tolist()):
            chosen.append(builder.layer(_digest(f"k8sim-synthetic/{prefix}/{i}/{k}"), size, "images.synthetic"))
        builder.image(f"{prefix}-{i}", chosen, "synthetic", "images.synthetic")


def build_catalog(spec: ImageCatalogSpec, rng: np.random.Generator) -> Catalog:
    """The catalog a scenario's ``images:`` section describes.

    Raises :class:`CatalogError` (field paths under ``images``) for a digest used with two
    sizes or an image name defined twice.
    """
    b = CatalogBuilder()
    if spec.builtin:
        add_builtin(b)
    for i, img in enumerate(spec.catalog):
        ids = []
        for j, layer in enumerate(img.layers):
            ids.append(b.layer(layer.digest, to_units(layer.size), f"images.catalog[{i}].layers[{j}].size"))
        where = f"images.catalog[{i}].name"
        if spec.builtin and normalize_image_name(img.name) in _builtin_names():
            b.problems.append((where, f"image {normalize_image_name(img.name)!r} is a built-in image; "
                                      "give it another name or set images.builtin: false"))
            continue
        b.image(img.name, ids, "catalog", where)
    if spec.synthetic is not None:
        add_synthetic(b, spec.synthetic, rng)
    return b.build()


def _builtin_names() -> set[str]:
    return {normalize_image_name(i["name"]) for i in builtin_data()["images"]}


# ------------------------------------------------------------------------------ script


def main(argv: list[str] | None = None) -> int:
    """Regenerate the built-in catalog from the calibration CSV."""
    ap = argparse.ArgumentParser(description="Generate k8sim's built-in image catalog (images.json).")
    ap.add_argument("csv", type=Path, help="official_images_amd64.csv (image-layers calibration table)")
    ap.add_argument("--out", type=Path, help="write here (default: standard output)")
    args = ap.parse_args(argv)
    text = json.dumps(generate_builtin(args.csv), indent=1) + "\n"
    if args.out is None:
        sys.stdout.write(text)
    else:
        args.out.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
