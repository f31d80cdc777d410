"""Bad node-autoscaler input through the CLI: one clear message naming the file and the
field path, exit code 2, no traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from k8sim.cli import app

KARPENTER_MISSING = """version: 1
duration_s: 100
cluster: {}
autoscaling:
  karpenter:
    node_pools:
      - name: general
        requirements:
          - {key: node.kubernetes.io/instance-type, operator: In, values: [m5.large, m5.huge]}
"""
CA_MISSING = """version: 1
duration_s: 100
cluster: {}
autoscaling:
  cluster_autoscaler:
    node_groups:
      - {name: g, max_size: 3, instance_type: m5.larg}
"""
CA_NEGATIVE = """version: 1
duration_s: 100
cluster: {}
autoscaling:
  cluster_autoscaler:
    node_groups:
      - {name: g, max_size: 3, price_per_hour: -0.5, template: {allocatable: {cpu: "4", memory: 16Gi}}}
"""
KARPENTER_NEGATIVE = """version: 1
duration_s: 100
cluster: {}
autoscaling:
  karpenter:
    catalogue: null
    instance_types: [{name: tiny, allocatable: {cpu: "2", memory: 4Gi}, price_per_hour: -1}]
    node_pools: [{name: general}]
"""
PREPULLED_NO_CATALOG = """version: 1
duration_s: 100
cluster: {}
autoscaling:
  cluster_autoscaler:
    node_groups:
      - {name: g, max_size: 3, instance_type: m5.large, template: {prepulled_images: [web:1.0]}}
"""
PREPULLED_UNKNOWN = """version: 1
duration_s: 100
cluster: {}
images:
  catalog: [{name: web:1.0, layers: [{digest: "sha256:w", size: 100M}]}]
autoscaling:
  cluster_autoscaler:
    node_groups:
      - {name: g, max_size: 3, instance_type: m5.large, template: {prepulled_images: [web:1.0, api:2]}}
"""
NO_DURATION = """version: 1
cluster: {}
autoscaling:
  karpenter:
    node_pools: [{name: general}]
"""


@pytest.mark.parametrize(("text", "expected"), [
    (KARPENTER_MISSING, "autoscaling.karpenter.node_pools[0].requirements[0].values[1]: instance type 'm5.huge' "
                        "is not in the aws-us-east-1 catalogue"),
    (CA_MISSING, "autoscaling.cluster_autoscaler.node_groups[0].instance_type: instance type 'm5.larg' is not in "
                 "the aws-us-east-1 catalogue"),
    (CA_NEGATIVE, "autoscaling.cluster_autoscaler.node_groups[0].price_per_hour: Input should be greater than or "
                  "equal to 0"),
    (KARPENTER_NEGATIVE, "autoscaling.karpenter.instance_types[0].price_per_hour: Input should be greater than or "
                         "equal to 0"),
    (NO_DURATION, "autoscaling.karpenter: a node autoscaler runs for ever: set duration_s"),
    (PREPULLED_NO_CATALOG, "autoscaling.cluster_autoscaler.node_groups[0].template.prepulled_images: pre-pulled "
                           "images need an images: section"),
    (PREPULLED_UNKNOWN, "autoscaling.cluster_autoscaler.node_groups[0].template.prepulled_images[1]: "),
])
@pytest.mark.parametrize("command", ["validate", "run"])
def test_bad_node_autoscaler_input_exits_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str,
                                          expected: str, command: str) -> None:
    (tmp_path / "bad.yaml").write_text(text, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, [command, "bad.yaml"])
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert f"bad.yaml: {expected}" in lines[0], result.stderr
