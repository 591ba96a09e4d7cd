"""Pins for the renderer's pure helpers: project/stack files, result JSON, wire values, policy documents.

No program is rendered here: each helper is called on hand-made input (fast), and what is
asserted is what the user sees from it (the config a program runs with, the exact error
message naming the file, the ``render --format json`` shape, the IAM JSON a rule reads).
"""
from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from google.protobuf import struct_pb2
from hypothesis import given
from hypothesis import strategies as st

from modelway.errors import UserError
from modelway.rendering import policy_documents as pd
from modelway.rendering.project import (
    PROJECT_FILES,
    SECRET_PLACEHOLDER,
    ProgramSpec,
    find_project_dir,
    load_program_spec,
)
from modelway.rendering.result import RenderedResource, RenderResult, count_label
from modelway.rendering.values import UNKNOWN, plain, struct_to_plain


def write_project(root: Path, pulumi_yaml: str, stacks: dict[str, str] | None = None, main: str = "__main__.py") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "Pulumi.yaml").write_text(textwrap.dedent(pulumi_yaml))
    (root / main).parent.mkdir(parents=True, exist_ok=True)
    (root / main).write_text("")
    for name, text in (stacks or {}).items():
        (root / f"Pulumi.{name}.yaml").write_text(textwrap.dedent(text))
    return root


# ---- project.py --------------------------------------------------------------------

def test_program_spec_defaults_and_constants():
    spec = ProgramSpec(Path("/p"), "proj", Path("/p/main.py"), "dev")
    assert (spec.config, spec.secret_keys, spec.warnings) == ({}, [], [])
    assert SECRET_PLACEHOLDER == "mock-secret-value"
    assert PROJECT_FILES == ("Pulumi.yaml", "Pulumi.yml")


def test_project_and_stack_config_reach_the_program_as_engine_strings(tmp_path):
    root = write_project(tmp_path / "p", """\
        name: shop
        runtime: python
        config:
          plain: 1
          typed: {type: string, default: eu}
          typed_no_default: {type: integer}
          described: {default: 7, description: d}
          valued: {value: v}
          other:key: {nested: true}
        """, {"prod": """\
        config:
          shop:flag: true
          disabled: false
          ratio: 0.5
          items: [1, "a"]
          aws:region: eu-west-1
          shop:token:
            secure: AAABBB
          other:secret:
            secure: CCC
        """})
    spec = load_program_spec(root, "prod")
    assert spec.project == "shop" and spec.stack == "prod"
    assert spec.project_dir == root.resolve()
    assert spec.main == root.resolve()
    assert spec.config == {
        "shop:plain": "1", "shop:typed": "eu", "shop:described": "7", "shop:valued": "v",
        "other:key": '{"nested": true}',
        "shop:flag": "true", "shop:disabled": "false", "shop:ratio": "0.5", "shop:items": '[1, "a"]',
        "aws:region": "eu-west-1", "shop:token": "mock-secret-value", "other:secret": "mock-secret-value",
    }
    assert spec.secret_keys == ["shop:token", "other:secret"]
    assert spec.warnings == [
        "Pulumi.prod.yaml: secret shop:token cannot be decrypted offline; using a placeholder",
        "Pulumi.prod.yaml: secret other:secret cannot be decrypted offline; using a placeholder",
    ]


def test_a_mapping_with_secure_and_more_is_plain_json(tmp_path):
    root = write_project(tmp_path / "p", "name: s\nruntime: python\n",
                         {"dev": "config:\n  s:x:\n    secure: a\n    other: b\n  s:none:\n"})
    spec = load_program_spec(root, "dev")
    assert spec.config == {"s:x": '{"secure": "a", "other": "b"}', "s:none": "null"}
    assert spec.secret_keys == [] and spec.warnings == []


def test_no_stack_means_dev_without_a_warning(tmp_path):
    root = write_project(tmp_path / "p", "name: s\nruntime: {name: python}\nmain: app.py\n", main="app.py")
    spec = load_program_spec(root, None)
    assert (spec.stack, spec.config, spec.warnings, spec.main) == ("dev", {}, [], (root / "app.py").resolve())
    # a dev stack file is read when no stack is named
    (root / "Pulumi.dev.yaml").write_text("config:\n  s:a: b\n")
    assert load_program_spec(root, None).config == {"s:a": "b"}
    # a named stack without its file: a warning listing the stack files that do exist
    (root / "Pulumi.staging.yaml").write_text("config: {}\n")
    assert load_program_spec(root, "prod").warnings == [
        "Pulumi.prod.yaml not found: stack prod has no stack config (stack files here: dev, staging)"]
    empty = write_project(tmp_path / "q", "name: s\nruntime: python\n")
    assert load_program_spec(empty, "x").warnings == [
        "Pulumi.x.yaml not found: stack x has no stack config (stack files here: none)"]


def test_pulumi_yml_and_empty_stack_files(tmp_path):
    root = tmp_path / "p"
    root.mkdir()
    (root / "Pulumi.yml").write_text("name: s\nruntime: python\n")
    (root / "__main__.py").write_text("")
    (root / "Pulumi.dev.yaml").write_text("")
    spec = load_program_spec(root, "dev")
    assert (spec.project, spec.config, spec.warnings) == ("s", {}, [])
    (root / "Pulumi.dev.yaml").write_text("encryptionsalt: x\n")
    assert load_program_spec(root, "dev").config == {}


@pytest.mark.parametrize(("pulumi_yaml", "message"), [
    ("runtime: python\n", "{f}: missing the project `name:`"),
    ("- a\n", "{f}: missing the project `name:`"),
    ("name: ''\nruntime: python\n", "{f}: missing the project `name:`"),
    ("name: s\n", "{f}: runtime is None; only Python programs can be rendered"),
    ("name: s\nruntime: {name: go}\n", "{f}: runtime is 'go'; only Python programs can be rendered"),
    ("name: s\nruntime: python\nmain: missing.py\n", "{f}: main program {d}/missing.py does not exist (check `main:`)"),
    ("name: s\nruntime: python\nmain: sub\n", "{f}: main program {d}/sub/__main__.py does not exist (check `main:`)"),
    ("name: s\nruntime: python\nconfig: 3\n", "{f}: `config:` must be a mapping of keys to values"),
])
def test_bad_project_files_are_one_line_user_errors(tmp_path, pulumi_yaml, message):
    root = tmp_path / "p"
    root.mkdir()
    (root / "sub").mkdir()
    (root / "__main__.py").write_text("")
    (root / "Pulumi.yaml").write_text(pulumi_yaml)
    with pytest.raises(UserError) as err:
        load_program_spec(root, None)
    assert str(err.value) == message.format(f=root.resolve() / "Pulumi.yaml", d=root.resolve())


def test_missing_project_and_bad_stack_config(tmp_path):
    with pytest.raises(UserError) as err:
        load_program_spec(tmp_path, "dev")
    assert str(err.value) == f"{tmp_path.resolve() / 'Pulumi.yaml'}: no Pulumi.yaml here; pass the directory of a Pulumi project"
    root = write_project(tmp_path / "p", "name: s\nruntime: python\n", {"dev": "config: [1]\n"})
    with pytest.raises(UserError) as err:
        load_program_spec(root, "dev")
    assert str(err.value) == f"{root.resolve() / 'Pulumi.dev.yaml'}: `config:` must be a mapping of keys to values"


def test_find_project_dir_walks_up_like_the_cli(tmp_path, monkeypatch):
    root = write_project(tmp_path / "p", "name: s\nruntime: python\n")
    deep = root / "a" / "b"
    deep.mkdir(parents=True)
    assert find_project_dir(deep) == root.resolve()
    assert find_project_dir(root) == root.resolve()
    yml = tmp_path / "y"
    (yml / "x").mkdir(parents=True)
    (yml / "Pulumi.yml").write_text("name: y\n")
    assert find_project_dir(yml / "x") == yml.resolve()
    monkeypatch.chdir(deep)
    assert find_project_dir() == root.resolve()
    # a directory named Pulumi.yaml is no project file
    odd = tmp_path / "odd"
    (odd / "Pulumi.yaml").mkdir(parents=True)
    with pytest.raises(UserError) as err:
        find_project_dir(odd)
    assert str(err.value) == (f"no Pulumi.yaml in {odd} or any parent directory; run this inside a Pulumi project "
                              "or pass its directory")
    monkeypatch.chdir(odd)
    with pytest.raises(UserError) as err:
        find_project_dir()
    assert str(err.value).startswith(f"no Pulumi.yaml in the current directory ({odd.resolve()}) or any parent")


def test_find_project_dir_refuses_a_missing_path_or_a_file(tmp_path):
    with pytest.raises(UserError) as err:
        find_project_dir(tmp_path / "nope")
    assert str(err.value) == f"{tmp_path / 'nope'}: no such directory; pass the directory of a Pulumi project"
    (tmp_path / "f").write_text("")
    with pytest.raises(UserError) as err:
        find_project_dir(tmp_path / "f")
    assert str(err.value) == f"{tmp_path / 'f'}: not a directory; pass the directory holding Pulumi.yaml"


# ---- result.py ---------------------------------------------------------------------

def test_rendered_resource_defaults_location_and_json_round_trip():
    bare = RenderedResource("aws:kms/key:Key", "k", "urn:k", "", {"a": 1})
    assert bare.to_json() == {
        "type": "aws:kms/key:Key", "name": "k", "urn": "urn:k", "parent": "", "inputs": {"a": 1},
        "provider": "", "custom": True, "protect": False, "retainOnDelete": False, "id": "", "file": "",
        "line": 0, "deleteBeforeReplace": False, "dependencies": []}
    assert bare.location == ""
    assert RenderedResource.from_json({"type": "t", "name": "n", "urn": "u"}) == RenderedResource("t", "n", "u", "", {})
    full = RenderedResource("t", "n", "u", "p", {"x": [1]}, provider="prov", custom=False, protect=True,
                            retain_on_delete=True, id="i", file="infra/a.py", line=42,
                            delete_before_replace=True, dependencies=("u1", "u2"))
    assert full.location == "infra/a.py:42"
    assert full.to_json()["retainOnDelete"] is True and full.to_json()["deleteBeforeReplace"] is True
    assert RenderedResource.from_json(json.loads(json.dumps(full.to_json()))) == full


@pytest.mark.parametrize(("resources", "providers", "label"), [
    (0, 0, "0 resources"), (1, 0, "1 resource"), (2, 0, "2 resources"),
    (134, 1, "134 resources + 1 provider"), (1, 2, "1 resource + 2 providers"),
])
def test_count_label(resources, providers, label):
    assert count_label(resources, providers) == label


def test_render_result_queries_and_json_round_trip():
    provider = RenderedResource("pulumi:providers:aws", "p", "urn:p", "", {})
    key = RenderedResource("aws:kms/key:Key", "k", "urn:k", "", {})
    key2 = RenderedResource("aws:kms/key:Key", "k2", "urn:k2", "urn:k", {})
    bucket = RenderedResource("aws:s3/bucket:Bucket", "b", "urn:b", "", {})
    result = RenderResult("prod", [provider, key, key2, bucket], {"o": 1}, ["w"], {"aws:region": "x"})
    assert result.of_type("aws:kms/key:Key") == [key, key2]
    assert result.by_urn() == {"urn:p": provider, "urn:k": key, "urn:k2": key2, "urn:b": bucket}
    assert result.count_label() == "3 resources + 1 provider"
    assert RenderResult("s").count_label() == "0 resources"
    data = result.to_json()
    assert data == {"stack": "prod", "resources": [r.to_json() for r in result.resources], "outputs": {"o": 1},
                    "warnings": ["w"], "config": {"aws:region": "x"}}
    assert RenderResult.from_json(json.loads(json.dumps(data))) == result
    assert RenderResult.from_json({"stack": "s"}) == RenderResult("s", [], {}, [], {})
    empty = RenderResult("s")
    assert (empty.resources, empty.outputs, empty.warnings, empty.config) == ([], {}, [], {})


# ---- values.py ---------------------------------------------------------------------

SIG = "4dabf18193072939515e22adb298388d"


def test_plain_unwraps_every_special_value():
    assert plain({SIG: "1b47061264138c4ac30d75fd1eb44270", "value": {SIG: "1b47061264138c4ac30d75fd1eb44270",
                                                                     "value": 3.0}}) == 3
    assert plain({SIG: "5cf8f73096256a8f31e491e813e4eb8e", "urn": "urn:x", "id": "i"}) == "urn:x"
    assert plain({SIG: "5cf8f73096256a8f31e491e813e4eb8e"}) == ""
    assert plain({SIG: "d0e6a833031e9bbcd3f4e8bde6ca49a4", "value": [2.0, 2.5]}) == [2, 2.5]
    assert plain({SIG: "d0e6a833031e9bbcd3f4e8bde6ca49a4"}) == UNKNOWN == "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
    assert plain({SIG: "c44067f5952c0a294b673a41bacd8c17", "path": "p", "text": "t", "uri": "u", "hash": "h"}) == {
        "path": "p", "text": "t", "uri": "u"}
    assert plain({SIG: "0def7320c3a5731c473e5ecbe6d01bc7", "assets": {"a": 1.0}, "path": "p", "uri": "u",
                  "hash": "h"}) == {"assets": {"a": 1}, "path": "p", "uri": "u"}
    assert plain({SIG: "other", "b": 1.0, "a": None}) == {SIG: "other", "a": None, "b": 1}
    assert list(plain({"b": 1, "a": 2, "c": 3})) == ["a", "b", "c"]
    assert plain(1.5) == 1.5 and plain(True) is True and plain("s") == "s"
    assert type(plain(30.0)) is int


@given(st.floats(allow_nan=False, allow_infinity=False, min_value=-1e15, max_value=1e15))
def test_plain_keeps_every_float_value(number):
    out = plain(number)
    assert out == number
    assert isinstance(out, int) == number.is_integer()


def test_struct_to_plain():
    struct = struct_pb2.Struct()
    struct.update({"days": 30, "tags": {"b": "2", "a": "1"}, "list": [1, "x"], "none": None})
    assert struct_to_plain(struct) == {"days": 30, "list": [1, "x"], "none": None, "tags": {"a": "1", "b": "2"}}


# ---- policy_documents.py -----------------------------------------------------------

def test_statement_json_every_field():
    assert pd.statement_json({}) == {"Effect": "Allow"}
    assert pd.statement_json({"sid": "", "effect": "", "actions": []}) == {"Effect": "Allow"}
    assert pd.statement_json({
        "sid": "S", "effect": "Deny", "actions": ["b", "a", "a"], "notActions": ["n"],
        "resources": ["r2", "r1"], "notResources": ["nr"],
        "principals": [{"type": "AWS", "identifiers": ["z", "y"]}, {"type": "AWS", "identifiers": ["x"]},
                       {"type": "Service", "identifiers": ["s"]}, {"type": "Federated"}],
        "notPrincipals": [{"type": "*", "identifiers": ["*"]}],
        "conditions": [{"test": "StringEquals", "variable": "a", "values": ["1"]},
                       {"test": "StringEquals", "variable": "b", "values": ["2", "3"]},
                       {"test": "Bool", "variable": "c"}],
    }) == {
        "Sid": "S", "Effect": "Deny", "Action": ["a", "b"], "NotAction": "n", "Resource": ["r1", "r2"],
        "NotResource": "nr", "Principal": {"AWS": ["x", "y", "z"], "Service": "s", "Federated": []},
        "NotPrincipal": "*",
        "Condition": {"StringEquals": {"a": "1", "b": ["2", "3"]}, "Bool": {"c": []}},
    }


def test_wildcard_principal_only_when_type_and_identifiers_are_both_star():
    assert pd.statement_json({"principals": [{"type": "AWS", "identifiers": ["*"]}]})["Principal"] == {"AWS": "*"}
    assert pd.statement_json({"principals": [{"type": "*", "identifiers": ["*", "x"]}]})["Principal"] == {"*": ["*", "x"]}
    assert pd.statement_json({"principals": [{"type": "AWS", "identifiers": ["a"]},
                                             {"type": "*", "identifiers": ["*"]}]})["Principal"] == "*"


def test_policy_document_merges_sources_statements_and_overrides_by_sid():
    source = json.dumps({"Statement": [{"Sid": "A", "Effect": "Allow", "Action": "s3:Get"},
                                       {"Effect": "Allow", "Action": "s3:NoSid"}]})
    single = json.dumps({"Statement": {"Sid": "C", "Effect": "Allow", "Action": "s3:Single"}})
    override = json.dumps({"Statement": [{"Sid": "A", "Effect": "Deny", "Action": "s3:Get"},
                                         {"Effect": "Deny", "Action": "s3:Other"}]})
    document = pd.policy_document({
        "sourcePolicyDocuments": [source, single, json.dumps({})],
        "statements": [{"actions": ["s3:Put"]}, {"sid": "C", "actions": ["s3:Replaced"]}],
        "overridePolicyDocuments": [override],
        "policyId": "doc-1", "version": "2008-10-17",
    })
    assert document == {"Version": "2008-10-17", "Id": "doc-1", "Statement": [
        {"Sid": "A", "Effect": "Deny", "Action": "s3:Get"},
        {"Effect": "Allow", "Action": "s3:NoSid"},
        {"Sid": "C", "Effect": "Allow", "Action": "s3:Replaced"},
        {"Effect": "Allow", "Action": "s3:Put"},
        {"Effect": "Deny", "Action": "s3:Other"},
    ]}
    assert list(document) == ["Version", "Id", "Statement"]
    assert pd.policy_document({}) == {"Version": "2012-10-17", "Statement": []}


def test_get_policy_document_result_json_forms():
    args = {"statements": [{"actions": ["s3:GetObject"], "resources": ["arn:aws:s3:::b/*"]}]}
    document = pd.policy_document(args)
    result = pd.get_policy_document_result(args)
    assert result == {
        "id": __import__("hashlib").sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()[:10],
        "json": json.dumps(document, indent=2),
        "minifiedJson": '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject",'
                        '"Resource":"arn:aws:s3:::b/*"}]}',
        "statements": args["statements"],
    }
    assert result["json"].startswith('{\n  "Version": "2012-10-17",\n  "Statement": [\n    {\n      "Effect"')
    assert len(result["id"]) == 10
    assert pd.get_policy_document_result({})["statements"] == []


def test_a_stack_file_that_is_no_mapping_is_refused_by_name(tmp_path):
    root = write_project(tmp_path / "p", "name: s\nruntime: python\n", {"dev": "- a\n- b\n"})
    with pytest.raises(UserError) as err:
        load_program_spec(root, "dev")
    assert str(err.value) == f"{root.resolve() / 'Pulumi.dev.yaml'}: expected a mapping with a `config:` section"


def test_a_program_spec_cannot_be_changed_once_read(tmp_path):
    import dataclasses

    spec = load_program_spec(write_project(tmp_path / "p", "name: s\nruntime: python\n"), None)
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.stack = "prod"  # type: ignore[misc]


def test_rendered_results_cannot_be_changed():
    import dataclasses

    resource = RenderedResource("t", "n", "u", "", {})
    with pytest.raises(dataclasses.FrozenInstanceError):
        resource.name = "other"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        RenderResult("s").stack = "other"  # type: ignore[misc]
