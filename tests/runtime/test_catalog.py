"""The image catalog: the built-in official images, the generator script, synthetic
catalogs, name normalisation."""

from __future__ import annotations

import json

import numpy as np
import pytest

from k8sim.config.images import ImageCatalogSpec
from k8sim.runtime.catalog import (
    MB,
    build_catalog,
    builtin_data,
    default_pull_policy,
    generate_builtin,
    main,
    normalize_image_name,
)

# Published compressed layer sizes (official_images_amd64.csv, docker-library/repo-info).
NGINX = [29780905, 33325076, 626, 955, 403, 1210, 1397]
REDIS = [29830418, 1101, 824, 25639861, 97, 32, 2109]
PYTHON = [49337828, 25639590, 67800074, 236338551, 6092327, 29758423, 250]
PYTHON_SLIM = [29780765, 1293282, 12363513, 249]

CSV_HEADER = ("image,platform,total_compressed_bytes,num_layers,layer_compressed_bytes,source_repo,source_path,"
              "source_commit\n")


def _csv_row(name: str, sizes: list[int]) -> str:
    return (f"{name},linux/amd64,{sum(sizes)},{len(sizes)},{';'.join(map(str, sizes))},"
            f"docker-library/repo-info,repos/x/remote/y.md,{'0' * 40}\n")


def test_normalized_image_name_as_upstream():
    # Upstream TestNormalizedImageName.
    assert normalize_image_name("root") == "root:latest"
    assert normalize_image_name("gcr.io:5000/root") == "gcr.io:5000/root:latest"
    assert normalize_image_name("root:tag") == "root:tag"
    digest = "root@sha256:" + "ab" * 32
    assert normalize_image_name(digest) == digest


def test_default_pull_policy_as_upstream():
    assert default_pull_policy("nginx") == "Always"
    assert default_pull_policy("nginx:latest") == "Always"
    assert default_pull_policy("nginx:1.27") == "IfNotPresent"
    assert default_pull_policy("nginx@sha256:" + "0" * 64) == "IfNotPresent"


def test_builtin_catalog_has_the_published_sizes_and_one_shared_base():
    cat = build_catalog(ImageCatalogSpec(), np.random.default_rng(0))
    sizes = {n: [int(cat.layer_sizes[x]) for x in cat.image_layers[cat.id_of(n)]] for n in cat.image_names}
    # Every layer but the shared base keeps its published size.
    assert sizes["nginx:latest"][1:] == NGINX[1:]
    assert sizes["redis:latest"][1:] == REDIS[1:]
    assert sizes["python:slim"][1:] == PYTHON_SLIM[1:]
    assert sizes["python:latest"] == PYTHON
    # nginx, redis and python:slim share one base layer: one id, the median of the three
    # published sizes (29780765, 29780905, 29830418 -> 29780905).
    bases = {cat.image_layers[cat.id_of(n)][0] for n in ("nginx", "redis", "python:slim")}
    assert len(bases) == 1
    assert int(cat.layer_sizes[bases.pop()]) == 29780905
    assert cat.image_layers[cat.id_of("python")][0] not in {cat.image_layers[cat.id_of("nginx")][0]}
    # 7 + 7 + 7 + 4 layers, two of the three shared bases merged away.
    assert cat.n_layers == 25 - 2


def test_generator_reproduces_the_shipped_file(tmp_path):
    # The shipped images.json is what the script makes of the calibration table.
    csv = tmp_path / "official_images_amd64.csv"
    rows = [("nginx:latest", NGINX), ("redis:latest", REDIS), ("python:latest", PYTHON), ("python:slim", PYTHON_SLIM)]
    csv.write_text(CSV_HEADER + "".join(_csv_row(n, s) for n, s in rows))
    doc = generate_builtin(csv)
    shipped = builtin_data()
    assert [i["name"] for i in doc["images"]] == [i["name"] for i in shipped["images"]]
    assert [i["layers"] for i in doc["images"]] == [i["layers"] for i in shipped["images"]]
    out = tmp_path / "images.json"
    assert main([str(csv), "--out", str(out)]) == 0
    assert json.loads(out.read_text())["images"] == doc["images"]


def test_generator_rejects_a_wrong_layer_count(tmp_path):
    csv = tmp_path / "t.csv"
    csv.write_text(CSV_HEADER + _csv_row("nginx:latest", NGINX).replace(",7,", ",6,"))
    with pytest.raises(ValueError, match="num_layers"):
        generate_builtin(csv)


def test_synthetic_catalog_structure():
    # 50 images, each 1 layer from a pool of 50 plus 3 own layers: 50 + 150 = 200 layers.
    # Constant sizes: pool layers 30 MB, own layers 20 MB -> every image is 90 MB.
    spec = ImageCatalogSpec.model_validate({
        "builtin": False,
        "synthetic": {"count": 50, "base_layers": 50, "base_layers_per_image": 1, "layers_per_image": 3,
                      "layer_size": {"kind": "constant", "value": 20},
                      "base_layer_size": {"kind": "constant", "value": 30}},
    })
    cat = build_catalog(spec, np.random.default_rng(1))
    assert cat.n_images == 50 and cat.n_layers == 200
    assert cat.image_names[0] == "synthetic-0:latest"
    assert set(cat.image_sizes.tolist()) == {90 * MB}
    assert all(len(layers) == 4 for layers in cat.image_layers)
    # The base layer comes first and is one of the 50 pool layers (ids 0-49).
    assert all(layers[0] < 50 for layers in cat.image_layers)


def test_synthetic_catalog_depends_only_on_the_stream():
    spec = ImageCatalogSpec.model_validate({
        "builtin": False,
        "synthetic": {"count": 5, "base_layers": 3, "base_layers_per_image": 2, "layers_per_image": 2,
                      "layer_size": {"kind": "lognormal", "mu": 3, "sigma": 1}},
    })
    a = build_catalog(spec, np.random.default_rng(7))
    b = build_catalog(spec, np.random.default_rng(7))
    c = build_catalog(spec, np.random.default_rng(8))
    assert a.image_layers == b.image_layers and np.array_equal(a.layer_sizes, b.layer_sizes)
    assert not np.array_equal(a.layer_sizes, c.layer_sizes)
