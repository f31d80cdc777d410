"""The placement slowdowns of the training-job model, where a generated gang workload
(``TrainingModel``) and trace jobs (``JobTraining``) give them: the same two rules."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from k8sim.config.batch import TrainingModel
from k8sim.config.jobtraces import JobTraining

DURATION = {"duration": {"kind": "constant", "value": 100}}


@pytest.mark.parametrize(("model", "extra"), [(TrainingModel, DURATION), (JobTraining, {})])
def test_a_rack_slowdown_needs_the_rack_label(model: type, extra: dict) -> None:
    with pytest.raises(ValidationError, match=r"crossRackSlowdown.*needs rackLabel"):
        model.model_validate({**extra, "crossRackSlowdown": 0.5})
    ok = model.model_validate({**extra, "crossRackSlowdown": 0.5, "rackLabel": "rack"})
    assert (ok.cross_node_slowdown, ok.cross_rack_slowdown, ok.rack_label) == (0.25, 0.5, "rack")


@pytest.mark.parametrize(("model", "extra"), [(TrainingModel, DURATION), (JobTraining, {})])
def test_spanning_racks_slows_at_least_as_much_as_spanning_nodes(model: type, extra: dict) -> None:
    with pytest.raises(ValidationError, match=r"must be >= crossNodeSlowdown \(0\.8\)"):
        model.model_validate({**extra, "crossNodeSlowdown": 0.8, "crossRackSlowdown": 0.5, "rackLabel": "r"})
    # equal factors are allowed (a rack costs nothing more than a node)
    assert model.model_validate({**extra, "crossNodeSlowdown": 0.5, "crossRackSlowdown": 0.5,
                                 "rackLabel": "r"}).cross_rack_slowdown == 0.5
