"""`modelway data add` on a stack versions the dataset into the raw-data bucket; another machine pulls the same version."""
from __future__ import annotations

import subprocess
import sys

from tests.modelway_cli import ModelwayCli


def test_dataset_version_added_on_one_machine_is_pulled_on_another(moto_stack, tmp_path):
    data = tmp_path / "applicants.csv"
    data.write_text("id,income\n1,52000\n2,61000\n")
    alice = ModelwayCli(tmp_path / "alice-home")
    alice.env.update(moto_stack.env)
    added = alice("data", "--outputs", str(moto_stack.outputs_file), "add", "applicants", str(data), "--json")
    assert added.code == 0, added.stderr
    version = added.json()["version"]
    raw = moto_stack.outputs["buckets"]["raw_data"]
    s3 = moto_stack.client("s3")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=raw)["Contents"]]
    assert f"datasets/applicants/{version}.json" in keys
    assert any(k.endswith(f"{added.json()['hash']}/data") for k in keys)  # the content, content-addressed
    for key in keys:
        assert s3.head_object(Bucket=raw, Key=key)["SSEKMSKeyId"] == moto_stack.outputs["kms_key_arn"]

    bob = ModelwayCli(tmp_path / "bob-home")
    bob.env.update(moto_stack.env)
    listed = bob("data", "--outputs", str(moto_stack.outputs_file), "list", "--json")
    assert [(r["name"], r["version"]) for r in listed.json()] == [("applicants", version)]
    # a pipeline on bob's machine reading dataset("applicants@<version>") resolves it like this
    code = ("from modelway.cli.stack import use_stack; use_stack(None, None); "
            "from modelway.lineage.datasets import resolve; "
            f"print(resolve('applicants@{version}').path.read_text(), end='')")
    env = bob.env | {"MODELWAY_OUTPUTS": str(moto_stack.outputs_file)}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout == data.read_text()
