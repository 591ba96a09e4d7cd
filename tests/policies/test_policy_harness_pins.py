"""Pins on the argument objects the tests and the offline checker build (policies/harness.py).

They must be what CrossGuard builds from the Pulumi CLI's requests: the URN format, the options,
the provider and config a rule reads. See ``make mutate``.
"""
from __future__ import annotations

from policies.harness import make_urn, options, policy_resource, provider, resource_args, stack_args


def test_urns_and_argument_objects():
    assert make_urn("aws:kms/key:Key", "k") == "urn:pulumi:test::modelway::aws:kms/key:Key::k"
    assert make_urn("t", "n", stack="prod", project="p") == "urn:pulumi:prod::p::t::n"
    opts = options("urn:parent", protect=True)
    assert (opts.parent, opts.protect, opts.ignore_changes, opts.aliases, opts.delete_before_replace) == (
        "urn:parent", True, [], [], None)
    assert options().parent is None and options().protect is False
    assert provider(None) is None
    p = provider({"region": "x"}, name="eu")
    assert (p.resource_type, p.props, p.urn, p.name) == ("pulumi:providers:aws", {"region": "x"},
                                                          "urn:pulumi:test::modelway::pulumi:providers:aws::eu", "eu")
    args = resource_args("t", {"a": 1}, name="n", config={"c": 1}, parent="urn:p", stack_tags={"s": "v"})
    assert (args.resource_type, args.props, args.urn, args.name, args.opts.parent, args.provider,
            args.get_config(), args.stack_tags) == ("t", {"a": 1}, "urn:pulumi:test::modelway::t::n", "n", "urn:p",
                                                    None, {"c": 1}, {"s": "v"})
    assert resource_args("t", {}, urn="urn:x").urn == "urn:x" and resource_args("t", {}).name == "subject"
    r = policy_resource("t", {"a": 1}, name="n", provider_props={"p": 1}, parent="urn:p")
    assert (r.resource_type, r.props, r.urn, r.name, r.opts.parent, r.provider.props) == (
        "t", {"a": 1}, "urn:pulumi:test::modelway::t::n", "n", "urn:p", {"p": 1})
    assert policy_resource("t", {}, name="n", urn="urn:y").urn == "urn:y"
    stack = stack_args([r], config={"c": 2}, stack_tags={"s": "v"})
    assert (stack.resources, stack.get_config(), stack.stack_tags) == ([r], {"c": 2}, {"s": "v"})


def test_what_crossguard_leaves_empty_is_empty():
    opts = options()
    timeouts = opts.custom_timeouts
    assert (timeouts.create_seconds, timeouts.update_seconds, timeouts.delete_seconds) == (0, 0, 0)
    assert opts.additional_secret_outputs == []
    assert provider({"a": 1}).name == "default"
    assert provider({"a": 1}, resource_type="pulumi:providers:kubernetes").urn == (
        "urn:pulumi:test::modelway::pulumi:providers:kubernetes::default")
    assert provider({"a": 1}, urn="urn:prov").urn == "urn:prov"
    # no config given: the policy's schema defaults apply (CrossGuard passes none either)
    assert resource_args("t", {}).get_config() == {} and stack_args([]).get_config() == {}
    r = policy_resource("t", {}, name="n")
    assert (r.provider, r.parent, r.dependencies, r.property_dependencies, r.opts.parent) == (None, None, [], {}, None)


def test_the_props_and_config_are_copies():
    props, config = {"a": 1}, {"c": 1}
    args = resource_args("t", props, config=config)
    props["a"], config["c"] = 2, 2
    assert (args.props, args.get_config()) == ({"a": 1}, {"c": 1})
