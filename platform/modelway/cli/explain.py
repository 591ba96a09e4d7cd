"""``modelway explain MODEL@VERSION --row FILE|JSON``: one row through a registered model (ML Test Score I5).

Only Typer (and the stdlib) is imported here; the registry, pandas and scikit-learn load
inside the command.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Optional

import typer

from modelway.cli.stack import OUTPUTS_HELP, STACK_HELP, use_stack
from modelway.errors import UserError
from modelway.registry import get_registry
from modelway.settings import get_settings

STAGE_COLUMNS_SHOWN = 40  # per stage in the text view; --json has them all
BAR_WIDTH = 24


def explain(
    ref: str = typer.Argument(..., help="MODEL@VERSION (or MODEL: its newest version), e.g. credit-risk@1.0.0."),
    row: str = typer.Option(..., "--row", help="The row: a JSON object, or a .json / .csv file holding one row."),
    reference_rows: int = typer.Option(10, "--reference-rows", min=2, max=500,
                                       help="Reference rows drawn from the training profile (Shapley values of non-linear models)."),
    as_json: bool = typer.Option(False, "--json", help="Print the explanation as JSON."),
    stack: Optional[str] = typer.Option(None, "--stack", "-s", help=STACK_HELP),
    outputs: Optional[Path] = typer.Option(None, "--outputs", help=OUTPUTS_HELP),
) -> None:
    """Explain one prediction: the row after each preprocessing stage and each feature's contribution
    (exact coefficients for linear models, exact Shapley values otherwise)."""
    use_stack(stack, outputs)
    name, _, version = ref.partition("@")
    if not name:
        raise UserError(f"expected MODEL@VERSION, got {ref!r}")
    from modelway.stages.explain import read_row

    values, where = read_row(row)  # a bad row is refused before anything is loaded
    from modelway.profiling.profile import load_baseline
    from modelway.stages.explain import explain_row, reference_rows as draw_reference, row_frame, with_derived_features

    home = get_settings().resolved_home()
    registry = get_registry(home)
    mv = registry.get(name, version or None)
    model = registry.load_model(name, mv.version)  # sha256-checked against the signed registration event
    schema = getattr(model, "schema", None)
    if schema is None:
        raise UserError(f"{name} {mv.version} was not registered with an input schema (not a Modelway GuardedModel); "
                        "explain needs the model's columns")
    # the features the version's feature function derives are computed as the server computes them
    values = with_derived_features(values, mv.schema, where)
    frame = row_frame(values, schema, where)
    ignored = sorted(set(values) - set(schema.feature_names))
    profile = load_baseline(home, name, mv.version, required=False)

    def reference() -> Any:
        if profile is None:  # the same one-line error, naming the fix
            load_baseline(home, name, mv.version, required=True)
        return draw_reference(profile, schema.feature_names, reference_rows)

    from modelway.stages.explain import RowError

    try:
        explanation = explain_row(model, frame, reference=reference,
                                  known_categories=(profile.categories if profile is not None else None))
    except RowError as exc:
        raise RowError(f"{where}: {exc}") from exc
    doc = {"model": name, "version": mv.version, "status": mv.status, "environment": mv.environment,
           "artifact_sha256": mv.artifact_sha256, "row_source": where, "ignored_columns": ignored, **explanation.to_dict()}
    if as_json:
        sys.stdout.write(json.dumps(doc, indent=2, default=str) + "\n")
        return
    _print_text(doc)


def _print_text(doc: dict[str, Any]) -> None:
    print(f"{doc['model']} {doc['version']}  {doc['status']} ({doc['environment']})  artifact sha256 "
          f"{doc['artifact_sha256'][:12]}… verified against its signed registration")
    probabilities = doc.get("probabilities")
    if probabilities:
        print(f"prediction  class {doc['prediction']}  (" + ", ".join(f"P(class {c}) = {p:.4f}" for c, p in probabilities.items()) + ")")
    else:
        print(f"prediction  {_value(doc['prediction'])}")
    for warning in doc.get("warnings") or []:
        print(f"warning: {warning}")
    if doc.get("ignored_columns"):
        print(f"ignored columns (not model inputs): {', '.join(doc['ignored_columns'])}")
    if not doc.get("replay_matches"):
        print("warning: replaying the stages one by one does NOT reproduce the model's own output (a stateful or random stage?)")
    stages = doc["stages"]
    print("\nthe row through the pipeline")
    for i, stage in enumerate(stages, 1):
        values = stage["values"]
        print(f"  stage {i}/{len(stages)}  {stage['name']}: {stage['transformer']} ({len(values)} value{'s' if len(values) != 1 else ''})")
        width = max((len(k) for k in values), default=0)
        for key, value in list(values.items())[:STAGE_COLUMNS_SHOWN]:
            print(f"    {key:<{width}}  {_value(value)}")
        if len(values) > STAGE_COLUMNS_SHOWN:
            print(f"    ... {len(values) - STAGE_COLUMNS_SHOWN} more (--json shows all)")
    contributions = doc["contributions"]
    print(f"\ncontributions to {doc['output']}: {doc['note']}")
    width = max([len(c["feature"]) for c in contributions] + [len("= output")])
    peak = max((abs(c["contribution"]) for c in contributions), default=0.0) or 1.0
    print(f"  {'base':<{width}}  {'':>14}  {doc['base_value']:+.4f}")
    for c in contributions:
        bar = ("+" if c["contribution"] >= 0 else "-") * max(0, round(BAR_WIDTH * abs(c["contribution"]) / peak))
        print(f"  {c['feature']:<{width}}  {_value(c['value']):>14}  {c['contribution']:+.4f}  {bar}")
    print(f"  {'= output':<{width}}  {'':>14}  {doc['output_value']:+.4f}   (base + contributions; off by {doc['additivity_error']:.1e})")


def _value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return "missing" if value is None else str(value)


def register(app: typer.Typer) -> None:
    """Add ``explain`` to the ``modelway`` app."""
    app.command("explain")(explain)
