"""The example pipelines pass typed stage results and share the library tail steps, so a miswired
copy is refused when it is built, before any step runs."""
from __future__ import annotations

from pathlib import Path

import pytest

from modelway.dsl.loader import load_pipeline
from modelway.errors import DefinitionError
from modelway.stages import steps
from modelway.stages.results import Evaluation, ModelPackage, RawData, Split, TrainedModel

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", ["credit_risk", "diabetes_regression"])
def test_steps_are_typed_and_the_tail_is_the_library_steps(name):
    graph = load_pipeline(REPO / "pipelines" / f"{name}.py").build()
    returns = {node: graph.nodes[node].step.return_annotation() for node in graph.order}
    assert [returns[n] for n in graph.order[1:6]] == [Split, TrainedModel, Evaluation, str, ModelPackage]
    assert returns[graph.order[0]] is RawData
    assert [graph.nodes[n].step for n in ("track", "package", "register")] == [steps.track, steps.package, steps.register]


def test_a_miswired_copy_is_refused_at_build_time(tmp_path):
    source = (REPO / "pipelines" / "credit_risk.py").read_text()
    wired = "    evaluation = evaluate(split, trained, env)\n"
    assert wired in source
    copy = tmp_path / "miswired.py"
    copy.write_text(source.replace(wired, "    evaluation = evaluate(trained, trained, env)\n"))
    with pytest.raises(DefinitionError, match=r"step 'evaluate' input 'split' expects modelway.Split but train returns "
                                              r"modelway.TrainedModel"):
        load_pipeline(copy).build()
