"""``k8sim export``: files written, counts printed, bad input is one clear error (exit 2)."""

from __future__ import annotations

from pathlib import Path

import yaml
from typer.testing import CliRunner

from k8sim.cli import app

ROOT = Path(__file__).resolve().parents[1]


def test_export_writes_manifests_and_config(tmp_path):
    out = tmp_path / "kwok"
    r = CliRunner().invoke(app, ["export", str(ROOT / "scenarios/burst-overload.yaml"), "--at", "61",
                                 "--out", str(out)])
    assert r.exit_code == 0, r.output
    doc = yaml.safe_load((out / "cluster.yaml").read_text())
    pods = [o for o in doc["items"] if o["kind"] == "Pod"]
    pending = [p for p in pods if "nodeName" not in p["spec"]]
    assert f"{len(pending)} pod(s) pending" in r.stdout and "10 Node" in r.stdout
    cfg = yaml.safe_load((out / "kube-scheduler-config.yaml").read_text())
    assert cfg["kind"] == "KubeSchedulerConfiguration"


def test_export_bad_input_is_a_clear_error(tmp_path):
    r = CliRunner().invoke(app, ["export", str(ROOT / "scenarios/quickstart.yaml"), "--at", "-5",
                                 "--out", str(tmp_path)])
    assert r.exit_code == 2 and "--at must be a finite time >= 0" in r.stderr
    r = CliRunner().invoke(app, ["export", str(ROOT / "scenarios/quickstart.yaml"), "--set", "seed=x",
                                 "--out", str(tmp_path)])
    assert r.exit_code == 2 and "seed" in r.stderr and r.exception is None or isinstance(r.exception, SystemExit)
