"""Pins on the rule wrapper (policies/core.py) that mutation testing found loose.

Every rule reaches the Pulumi CLI, the offline checker and the tests through these wrappers:
which messages become violations and which notes, on which resource (URN), what the CLI is told
when nothing could be checked, and which parameters and stack a check sees. See ``make mutate``.
"""
from __future__ import annotations

import pytest
from pulumi_policy import EnforcementLevel, Severity
from pulumi_policy.policy import _NotApplicableError

from policies import core
from policies.core import (
    Context,
    Note,
    Outcome,
    ResourceRule,
    StackInfo,
    StackResource,
    StackRule,
    Violation,
    current_stack,
    stack_resources,
    use_stack,
)
from policies.harness import policy_resource, resource_args, stack_args
from policies.levels import DEFAULT_LEVELS

KEY = "aws:kms/key:Key"
UNKNOWN_STRING = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"


def resource_rule(check, resource_types=(KEY,), params=None, **kwargs) -> ResourceRule:
    # the name must be one of the pack's (DEFAULT_LEVELS): s3-access-logging is advisory, kms-key-rotation mandatory
    return ResourceRule(kwargs.pop("name", "kms-key-rotation"), "Keys rotate.", check=check,
                        resource_types=resource_types, remediation="Rotate.", mirrors=["CKV_AWS_7"],
                        concern="storage", params=params, **kwargs)


def stack_rule(check, params=None, **kwargs) -> StackRule:
    return StackRule(kwargs.pop("name", "budget-exists"), "A budget.", check=check, remediation="Add one.",
                     mirrors=["cost"], concern="tagging", params=params, **kwargs)


# ---- what a check yields becomes violations and notes, each on a resource ---------------------
def test_yielded_strings_violations_and_notes_land_on_the_checked_resource_unless_they_name_one():
    def check(resource_type, props, ctx):
        yield "plain text"
        yield Violation("own urn", "urn:elsewhere")
        yield Violation("no urn")
        yield Note("a note")
        yield Note("noted elsewhere", "urn:other")

    outcome = resource_rule(check).evaluate(resource_args(KEY, {}, urn="urn:key"))
    assert outcome == Outcome(
        violations=[Violation("plain text", "urn:key"), Violation("own urn", "urn:elsewhere"),
                    Violation("no urn", "urn:key")],
        notes=[Note("a note", "urn:key"), Note("noted elsewhere", "urn:other")])


def test_outcome_and_messages_default_to_empty_and_no_urn():
    assert (Outcome().violations, Outcome().notes) == ([], [])
    assert Outcome().violations is not Outcome().violations
    assert (Violation("m").urn, Note("m").urn) == (None, None)


def test_a_check_that_raises_is_a_note_naming_the_error_and_the_policy():
    def check(resource_type, props, ctx):
        yield Violation("before")
        raise ValueError("boom")

    outcome = resource_rule(check).evaluate(resource_args(KEY, {}, urn="urn:key"))
    assert outcome == Outcome(notes=[Note("could not evaluate (ValueError: boom); please report this to the "
                                          "kms-key-rotation maintainers", "urn:key")])

    def stack_check(resources, ctx):
        raise KeyError("x")
        yield  # pragma: no cover - a generator

    assert stack_rule(stack_check).evaluate(stack_args([])) == Outcome(notes=[Note(
        "could not evaluate (KeyError: 'x'); please report this to the budget-exists maintainers", None)])


# ---- which resources a resource rule reads --------------------------------------------------------
def test_a_resource_rule_reads_only_its_types_and_all_types_when_none_are_given():
    seen = []

    def check(resource_type, props, ctx):
        seen.append(resource_type)
        yield "bad"

    rule = resource_rule(check)
    assert rule.applies_to(KEY) and not rule.applies_to("aws:s3/bucket:Bucket")
    assert rule.evaluate(resource_args("aws:s3/bucket:Bucket", {})) == Outcome() and seen == []
    assert rule.resource_types == frozenset({KEY})
    everything = resource_rule(check, resource_types=[])
    assert everything.applies_to("aws:s3/bucket:Bucket")
    assert [v.message for v in everything.evaluate(resource_args("aws:s3/bucket:Bucket", {})).violations] == ["bad"]
    assert seen == ["aws:s3/bucket:Bucket"]


def test_a_resource_check_sees_plain_props_and_its_context():
    seen = {}

    def check(resource_type, props, ctx):
        seen.update(props=props, ctx=ctx)
        return []

    rule = resource_rule(check, params={"limit": {"type": "integer", "default": 3}, "extra": {"type": "string"}})
    args = resource_args(KEY, {"a": UNKNOWN_STRING, "b": [1]}, name="k", urn="urn:k", config={"extra": "x"},
                         provider_props={"region": UNKNOWN_STRING, "profile": "p"}, stack_tags={"team": "ml"})
    rule.evaluate(args)
    ctx = seen["ctx"]
    assert repr(seen["props"]) == "{'a': <unknown>, 'b': [1]}"
    assert (ctx.config, ctx.urn, ctx.name, ctx.stack_tags, ctx.stack) == (
        {"limit": 3, "extra": "x"}, "urn:k", "k", {"team": "ml"}, None)
    assert repr(ctx.provider_props) == "{'region': <unknown>, 'profile': 'p'}"
    rule.evaluate(resource_args(KEY, {}))
    assert seen["ctx"].provider_props is None


# ---- parameters -------------------------------------------------------------------------------
def test_params_are_the_schema_defaults_overlaid_with_the_configured_values():
    rule = resource_rule(lambda *a: [], params={"a": {"type": "integer", "default": 1}, "b": {"type": "string"},
                                               "c": {"type": "array", "default": ["x"]}})
    assert rule.params(None) == {"a": 1, "c": ["x"]}
    assert rule.params({"a": 2, "d": 4, "enforcementLevel": "advisory"}) == {"a": 2, "c": ["x"], "d": 4}
    assert rule.config_schema.properties == {"a": {"type": "integer", "default": 1}, "b": {"type": "string"},
                                             "c": {"type": "array", "default": ["x"]}}
    bare = resource_rule(lambda *a: [])
    assert bare.config_schema is None and bare.params({"x": 1, "enforcementLevel": "mandatory"}) == {"x": 1}
    assert resource_rule(lambda *a: [], params={}).config_schema is None


# ---- metadata ---------------------------------------------------------------------------------
def test_a_rules_metadata_reaches_crossguard():
    rule = resource_rule(lambda *a: [], name="s3-access-logging", severity=Severity.LOW)
    assert (rule.name, rule.description, rule.severity, rule.remediation_steps) == (
        "s3-access-logging", "Keys rotate.", Severity.LOW, "Rotate.")
    assert rule.enforcement_level is EnforcementLevel.ADVISORY is DEFAULT_LEVELS["s3-access-logging"]
    assert (rule.tags, rule.mirrors, rule.concern, rule.kind) == (["storage", "CKV_AWS_7"], ("CKV_AWS_7",), "storage",
                                                                  "resource")
    default = resource_rule(lambda *a: [])
    assert default.severity == Severity.HIGH and default.enforcement_level is EnforcementLevel.MANDATORY
    stack = stack_rule(lambda *a: [])
    assert (stack.kind, stack.severity, stack.tags, stack.mirrors, stack.enforcement_level) == (
        "stack", Severity.HIGH, ["tagging", "cost"], ("cost",), EnforcementLevel.ADVISORY)
    assert stack_rule(lambda *a: [], severity=Severity.LOW).severity == Severity.LOW
    with pytest.raises(KeyError):
        resource_rule(lambda *a: [], name="not-in-the-pack")


# ---- what the Pulumi CLI is told (validate) ------------------------------------------------------
def collect(rule, args) -> tuple[list, str | None]:
    reported = []
    try:
        rule.validate(args, lambda message, urn=None: reported.append((message, urn)))
    except _NotApplicableError as exc:
        return reported, exc.reason
    return reported, None


def test_validate_reports_each_violation_and_not_applicable_only_when_nothing_else():
    def violations_and_notes(resource_type, props, ctx):
        yield "one"
        yield Note("n1")
        yield Violation("two", "urn:x")

    assert collect(resource_rule(violations_and_notes), resource_args(KEY, {})) == ([("one", None), ("two", None)],
                                                                                    None)
    notes = resource_rule(lambda *a: [Note("n1"), Note("n2")])
    assert collect(notes, resource_args(KEY, {})) == ([], "n1; n2")
    assert collect(resource_rule(lambda *a: []), resource_args(KEY, {})) == ([], None)


def test_stack_validate_reports_each_violation_on_its_resource():
    def check(resources, ctx):
        yield Violation("on r", "urn:r")
        yield "on the stack"
        yield Note("n")

    assert collect(stack_rule(check), stack_args([])) == ([("on r", "urn:r"), ("on the stack", None)], None)
    assert collect(stack_rule(lambda *a: [Note("a"), Note("b")]), stack_args([])) == ([], "a; b")
    assert collect(stack_rule(lambda *a: []), stack_args([])) == ([], None)


def test_a_stack_check_sees_plain_resources_its_params_and_the_stack():
    seen = {}

    def check(resources, ctx):
        seen.update(resources=resources, ctx=ctx)
        return []

    rule = stack_rule(check, params={"n": {"type": "integer", "default": 5}})
    resource = policy_resource(KEY, {"policy": UNKNOWN_STRING}, name="k", provider_props={"p": UNKNOWN_STRING})
    use_stack("prod", {"aws:region": "eu-west-1"})
    try:
        rule.evaluate(stack_args([resource], config={"m": 1}, stack_tags={"t": "v"}))
    finally:
        use_stack(None)
    (view,) = seen["resources"]
    assert (view.type, view.urn, view.name, repr(view.props), repr(view.provider_props)) == (
        KEY, "urn:pulumi:test::modelway::aws:kms/key:Key::k", "k", "{'policy': <unknown>}", "{'p': <unknown>}")
    ctx = seen["ctx"]
    assert (ctx.config, ctx.stack_tags, ctx.stack) == ({"n": 5, "m": 1}, {"t": "v"},
                                                       StackInfo("prod", {"aws:region": "eu-west-1"}))


# ---- the stack being checked -------------------------------------------------------------------
@pytest.mark.parametrize("raw, value", [
    ('{"a": 1}', {"a": 1}),
    ("[1, 2]", [1, 2]),
    ("{not json", "{not json"),
    ("plain", "plain"),
    ("", ""),
    (None, None),
    (7, 7),
])
def test_stack_config_values_are_json_decoded_when_they_look_like_json(raw, value):
    assert StackInfo("s", {"k": raw}).value("k") == value
    assert StackInfo("s").value("missing") is None


def test_use_stack_sets_and_clears_the_stack(monkeypatch):
    monkeypatch.setenv("PULUMI_STACK", "org/project/staging")
    use_stack("prod", {"k": "v"})
    try:
        assert current_stack() == StackInfo("prod", {"k": "v"})
        use_stack("dev")
        assert current_stack() == StackInfo("dev", {})
    finally:
        use_stack(None)
    assert current_stack().name == "staging"  # the CLI's fully qualified name, its last part
    monkeypatch.setenv("PULUMI_STACK", "prod")
    assert current_stack().name == "prod"
    monkeypatch.delenv("PULUMI_STACK")
    assert current_stack().name == ""


def test_stack_resources_are_built_once_per_list():
    resources = [policy_resource(KEY, {"a": 1}, name="k")]
    first = stack_resources(resources)
    assert stack_resources(resources) is first
    assert first == [StackResource(KEY, {"a": 1}, "urn:pulumi:test::modelway::aws:kms/key:Key::k", "k", None)]
    other = [policy_resource(KEY, {"a": 2}, name="k")]
    assert stack_resources(other)[0].props == {"a": 2}
    assert stack_resources(resources) is not first and stack_resources(resources) == first
    assert len(core._VIEWS) == 1


def test_a_stack_resources_id_is_its_id_prop_when_it_is_text():
    assert StackResource(KEY, {"id": "k-1"}, "u", "n").id == "k-1"
    assert StackResource(KEY, {"id": UNKNOWN_STRING and None}, "u", "n").id is None
    assert StackResource(KEY, {"id": 5}, "u", "n").id is None
    assert StackResource(KEY, {}, "u", "n").id is None


def test_context_defaults():
    ctx = Context(config={})
    assert (ctx.urn, ctx.name, ctx.provider_props, ctx.stack_tags, ctx.stack) == ("", "", None, {}, None)


def test_the_same_note_twice_is_reported_once_but_distinct_notes_and_violations_all_are():
    def check(resource_type, props, ctx):
        yield Note("n")
        yield Note("n", "urn:key")       # the same note once the default URN is filled in
        yield Note("n", "urn:other")
        yield "v"
        yield "v"

    outcome = resource_rule(check).evaluate(resource_args(KEY, {}, urn="urn:key"))
    assert outcome == Outcome(violations=[Violation("v", "urn:key"), Violation("v", "urn:key")],
                              notes=[Note("n", "urn:key"), Note("n", "urn:other")])


def test_the_public_names_exist_and_the_values_are_immutable():
    import dataclasses

    assert [name for name in core.__all__ if not hasattr(core, name)] == []
    assert set(core.__all__) >= {"Context", "Note", "Outcome", "ResourceRule", "StackRule", "StackResource",
                                 "Violation", "use_stack", "current_stack", "stack_resources"}
    values = [Violation("m"), Note("m"), Context(config={}), StackResource(KEY, {}, "u", "n"), StackInfo()]
    for value in values:
        with pytest.raises(dataclasses.FrozenInstanceError):
            value.urn = "changed"
    assert StackInfo() == StackInfo("", {}) and StackResource(KEY, {}, "u", "n").provider_props is None
    assert len({Violation("m"), Violation("m"), Note("m")}) == 2  # hashable: findings can be collected in sets


def test_without_use_stack_the_stack_is_what_the_pulumi_cli_passes(monkeypatch):
    import pulumi.runtime.config as runtime_config

    monkeypatch.setenv("PULUMI_STACK", "org/project/prod")
    monkeypatch.setenv("PULUMI_CONFIG", '{"aws:region": "eu-west-1", "modelway:registries": "[1]"}')
    use_stack(None)
    token = runtime_config.CONFIG.set({})  # config set in-process by other tests' Pulumi mocks is not ours
    try:
        stack = current_stack()
    finally:
        runtime_config.CONFIG.reset(token)
    assert stack == StackInfo("prod", {"aws:region": "eu-west-1", "modelway:registries": "[1]"})
    assert stack.value("modelway:registries") == [1]


def test_a_stack_config_that_cannot_be_read_is_an_empty_one(monkeypatch):
    import pulumi.runtime.config as runtime_config

    def broken():
        raise ValueError("PULUMI_CONFIG is not JSON")

    monkeypatch.setattr(runtime_config, "get_config_env", broken)
    monkeypatch.setenv("PULUMI_STACK", "dev")
    use_stack(None)
    assert current_stack() == StackInfo("dev", {}) and current_stack().value("k") is None


def test_a_fresh_process_reads_the_stack_from_the_pulumi_cli():
    # what `pulumi preview` runs: the pack never calls use_stack, so the module's initial state decides
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PULUMI_STACK": "org/p/staging", "PULUMI_CONFIG": "{}",
           "PYTHONPATH": os.pathsep.join([str(root / "platform"), str(root)])}
    out = subprocess.run([sys.executable, "-c", "from policies.core import current_stack; print(current_stack())"],
                         env=env, capture_output=True, text=True, check=True, cwd=root).stdout
    assert out.strip() == "StackInfo(name='staging', config={})"


def test_a_rule_is_either_kind():
    from policies.catalog import by_name

    assert isinstance(by_name("budget-exists"), core.Rule) and isinstance(by_name("kms-key-rotation"), core.Rule)
    assert not isinstance(Violation("m"), core.Rule)
