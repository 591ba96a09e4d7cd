"""Benchmark of the offline policy checker (`modelway policy check`).

Prints, as medians over several whole-process runs on this machine:
  1. `modelway policy check --stack prod` on this repository's infra (target <= 1.5 s),
  2. the same check on a generated program with 1,000 resources (target <= 5 s),
  3. the per-resource cost,
each next to a baseline measured in the same run, alternating with it so both see the same
load: the render alone (`modelway render`: the checker does the same render, then evaluates the
pack, in its one subprocess), plus a bare
Python start and the import of the provider SDK modules (the floor of any render). It then splits the 1,000-resource
check into render vs. policy evaluation (in-process) to show where the time goes.

Then, in the same run:
  4. `policy check --stack prod` beside Checkov scanning a two-resource Terraform directory (whole
     processes, alternating; Checkov from the `bench` extra, a `checkov` on PATH, or $CHECKOV),
  5. one process checking three stacks (`--stack dev --stack staging --stack prod`) against one
     (target: <= 1.6x),
  6. the CPU cost of recording each resource's declaring line (in-process renders, with and without).

Run: .venv/bin/python benchmarks/policy_check.py [--runs N] [--only targets,checkov,stacks]
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TARGET_PROD_S = 1.5
TARGET_1000_S = 5.0
TARGET_THREE_STACKS_RATIO = 1.6

# The smallest Terraform program Checkov has something to say about: a bucket and a key.
TERRAFORM = """resource "aws_kms_key" "data" {
  description = "data key"
}

resource "aws_s3_bucket" "data" {
  bucket = "bench-data"
}
"""
GENERATED_RESOURCES = 1000


# The provider SDK modules our infra program uses: importing them is the floor of any render.
SDK_IMPORTS = ("import pulumi, pulumi.runtime; "
               "import pulumi_aws.s3, pulumi_aws.kms, pulumi_aws.iam, pulumi_aws.ec2, pulumi_aws.autoscaling, "
               "pulumi_aws.ecr, pulumi_aws.sagemaker, pulumi_aws.cloudwatch, pulumi_aws.sns, pulumi_aws.budgets, "
               "pulumi_aws.eks; import pulumi_kubernetes.core.v1, pulumi_kubernetes.rbac.v1, "
               "pulumi_kubernetes.networking.v1, pulumi_kubernetes.scheduling.v1")


def _timed(command: list[str], ok_codes: tuple[int, ...] = (0, 1)) -> float:
    start = time.perf_counter()
    proc = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode not in ok_codes:
        sys.exit(f"benchmark command failed ({proc.returncode}): {' '.join(command)}\n{proc.stderr[-2000:]}")
    return elapsed


def _timed_cpu(command: list[str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the process and its children) of one run."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    elapsed = _timed(command)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return elapsed, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def paired_cpu(baseline: list[str], measured: list[str], runs: int) -> tuple[tuple[float, float], tuple[float, float]]:
    """Like :func:`paired`, with CPU time too: on a shared, overloaded machine wall time mostly measures waiting."""
    pairs = [(_timed_cpu(baseline), _timed_cpu(measured)) for _ in range(runs)]
    return tuple(tuple(statistics.median(p[side][k] for p in pairs) for k in (0, 1)) for side in (0, 1))  # type: ignore


def wall(command: list[str], runs: int) -> float:
    """Median wall-clock seconds of ``command`` run ``runs`` times as a fresh process."""
    return statistics.median(_timed(command) for _ in range(runs))


def paired(baseline: list[str], measured: list[str], runs: int) -> tuple[float, float]:
    """Medians of two commands run alternately, so both see the same machine load (shared cores)."""
    pairs = [(_timed(baseline), _timed(measured)) for _ in range(runs)]
    return statistics.median(p[0] for p in pairs), statistics.median(p[1] for p in pairs)


GENERATED_PROGRAM = '''
"""Generated benchmark program: {n} resources of the kinds the policies inspect."""
import json
import pulumi
import pulumi_aws as aws

TAGS = {{"owner": "bench", "cost-center": "bench", "environment": "prod"}}
key = aws.kms.Key("key", enable_key_rotation=True, tags=TAGS)
groups = ({n} - 1) // 5
for i in range(groups):
    bucket = aws.s3.Bucket(f"data-{{i}}", tags=TAGS)
    aws.s3.BucketServerSideEncryptionConfiguration(
        f"data-{{i}}-sse", bucket=bucket.id,
        rules=[{{"apply_server_side_encryption_by_default": {{"sse_algorithm": "aws:kms",
                                                            "kms_master_key_id": key.arn}}}}])
    aws.s3.BucketPublicAccessBlock(f"data-{{i}}-pab", bucket=bucket.id, block_public_acls=True,
                                   block_public_policy=True, ignore_public_acls=True, restrict_public_buckets=True)
    role = aws.iam.Role(f"role-{{i}}", tags=TAGS, assume_role_policy=json.dumps({{
        "Version": "2012-10-17", "Statement": [{{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                "Principal": {{"Service": "sagemaker.amazonaws.com"}}}}]}}))
    aws.cloudwatch.LogGroup(f"logs-{{i}}", retention_in_days=365, kms_key_id=key.arn, tags=TAGS)
for j in range({n} - 1 - groups * 5):
    aws.sns.Topic(f"topic-{{j}}", kms_master_key_id=key.arn, tags=TAGS)
'''


def write_generated(directory: Path, n: int) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "Pulumi.yaml").write_text("name: bench\nruntime: python\n")
    (directory / "Pulumi.prod.yaml").write_text("config:\n  aws:region: eu-west-1\n")
    (directory / "__main__.py").write_text(textwrap.dedent(GENERATED_PROGRAM.format(n=n)))
    return directory


def split_in_process(program: Path) -> tuple[float, float, int]:
    """(render seconds, policy evaluation seconds, resources) for one check, measured in this process."""
    sys.path.insert(0, str(REPO))
    from modelway.policy_check.config import PackSettings
    from modelway.policy_check.engine import evaluate
    from modelway.rendering import render_program

    settings = PackSettings.load(REPO / "policies" / "config.prod.json")
    start = time.perf_counter()
    result = render_program(program, "prod", strict_invokes=False)
    rendered = time.perf_counter()
    report = evaluate(result, settings)
    return rendered - start, time.perf_counter() - rendered, report.resources


def checkov_command() -> list[str] | None:
    """How to run Checkov here: $CHECKOV, else ``checkov`` beside this Python or on PATH; None if absent."""
    if os.environ.get("CHECKOV"):
        return [os.environ["CHECKOV"]]
    beside = Path(sys.executable).parent / "checkov"
    found = str(beside) if beside.is_file() else shutil.which("checkov")
    return [found] if found else None


def against_checkov(modelway: list[str], runs: int) -> None:
    checkov = checkov_command()
    if checkov is None:
        print("checkov: not installed, comparison skipped (install the bench extra in its own venv and set "
              "CHECKOV=<venv>/bin/checkov; see README, Policy as code > Performance)")
        return
    with tempfile.TemporaryDirectory(prefix="modelway-bench-tf-") as tmp:
        (Path(tmp) / "main.tf").write_text(TERRAFORM)
        version = subprocess.run([*checkov, "--version"], capture_output=True, text=True).stdout.strip()
        scan = [*checkov, "-d", tmp, "--quiet", "--compact", "--framework", "terraform", "--skip-download"]
        (checkov_s, checkov_cpu), (check_s, check_cpu) = paired_cpu(
            scan, [*modelway, "policy", "check", "--stack", "prod", "--format", "json"], runs)
    print(f"checkov {version} on 2 Terraform resources (baseline)  {checkov_s:6.2f} s wall, {checkov_cpu:5.2f} s CPU")
    print(f"modelway policy check --stack prod (source lines on)     {check_s:6.2f} s wall, {check_cpu:5.2f} s CPU   "
          f"({check_s / checkov_s:.2f}x Checkov's wall time, {check_cpu / checkov_cpu:.2f}x its CPU)")


def three_stacks(modelway: list[str], runs: int) -> None:
    check = [*modelway, "policy", "check", "--format", "json"]
    (one, one_cpu), (three, three_cpu) = paired_cpu(
        [*check, "--stack", "prod"], [*check, "--stack", "dev", "--stack", "staging", "--stack", "prod"], runs)
    print(f"policy check, one stack (baseline)             {one:6.2f} s wall, {one_cpu:5.2f} s CPU")
    for label, ratio in (("wall", three / one), ("CPU", three_cpu / one_cpu)):
        verdict = "OK" if ratio <= TARGET_THREE_STACKS_RATIO else "ABOVE TARGET"
        print(f"policy check, three stacks in one process      {ratio:.2f}x one ({label}), "
              f"target <= {TARGET_THREE_STACKS_RATIO}x: {verdict}")
    print(f"                                               ({three:.2f} s wall, {three_cpu:.2f} s CPU)")


def source_location_cost(runs: int) -> None:
    """In-process renders of the prod stack with the declaring lines recorded, and with the locator
    swapped for the SDK's own "no frames" answer (what renders did before), alternating."""
    sys.path.insert(0, str(REPO))
    from modelway.rendering import engine, fast_imports
    from modelway.rendering.project import load_program_spec

    fast_imports.install()
    from pulumi.runtime.proto import source_pb2

    spec = load_program_spec(REPO, "prod")
    located = engine._SourceLocator.stack_trace

    def render(with_lines: bool) -> tuple[float, int]:
        engine._SourceLocator.stack_trace = located if with_lines else (lambda self: source_pb2.StackTrace())
        start = time.process_time()
        result = engine.render_in_process(spec, strict_invokes=False, preview=True)
        return time.process_time() - start, sum(1 for r in result.resources if r.line)

    render(True)  # warm: imports
    pairs = [(render(False), render(True)) for _ in range(runs)]
    engine._SourceLocator.stack_trace = located
    without = statistics.median(p[0][0] for p in pairs)
    with_lines = statistics.median(p[1][0] for p in pairs)
    print(f"render of prod in process, no source lines (baseline)  {without:6.3f} s CPU")
    print(f"render of prod in process, declaring lines recorded     {with_lines:6.3f} s CPU   "
          f"({100 * (with_lines / without - 1):+.1f} %, {pairs[0][1][1]} resources located)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="runs per measurement (median is reported)")
    parser.add_argument("--only", default="targets,checkov,stacks,locations", help="comma-separated sections to run")
    options = parser.parse_args()
    runs, sections = options.runs, set(options.only.split(","))
    modelway = [sys.executable, "-m", "modelway.cli.main"]
    if "checkov" in sections:
        against_checkov(modelway, runs)
    if "stacks" in sections:
        three_stacks(modelway, runs)
    if "locations" in sections:
        source_location_cost(runs)
    if "targets" in sections:
        targets(modelway, runs)


def targets(modelway: list[str], runs: int) -> None:

    python_start = wall([sys.executable, "-c", "pass"], runs)
    sdk_import = wall([sys.executable, "-c", SDK_IMPORTS], runs)
    render_prod, check_prod = paired([*modelway, "render", "--stack", "prod", "--format", "json"],
                                     [*modelway, "policy", "check", "--stack", "prod", "--format", "json"], runs)

    with tempfile.TemporaryDirectory(prefix="modelway-bench-") as tmp:
        program = write_generated(Path(tmp) / "bench", GENERATED_RESOURCES)
        big_runs = max(3, runs // 2)
        render_big, check_big = paired(
            [*modelway, "render", "--stack", "prod", "--format", "json", "--project-dir", str(program)],
            [*modelway, "policy", "check", str(program), "--stack", "prod", "--format", "json"], big_runs)
        render_s, evaluate_s, resources = split_in_process(program)
    prod_render_s, prod_evaluate_s, prod_resources = split_in_process(REPO)

    def verdict(value: float, target: float) -> str:
        return "OK" if value <= target else f"ABOVE TARGET by {value - target:.2f} s"

    print(f"python start (baseline)                        {python_start:6.2f} s")
    print(f"import pulumi + the AWS/k8s SDK modules infra uses {sdk_import:6.2f} s   (floor of any render)")
    print(f"modelway render --stack prod (baseline)        {render_prod:6.2f} s")
    print(f"modelway policy check --stack prod             {check_prod:6.2f} s   target <= {TARGET_PROD_S} s: "
          f"{verdict(check_prod, TARGET_PROD_S)}  (checker over render: {check_prod - render_prod:+.2f} s)")
    print(f"render, generated {GENERATED_RESOURCES} resources (baseline)  {render_big:6.2f} s")
    print(f"policy check, generated {GENERATED_RESOURCES} resources      {check_big:6.2f} s   target <= "
          f"{TARGET_1000_S} s: {verdict(check_big, TARGET_1000_S)}")
    print(f"per resource: {1000 * check_big / GENERATED_RESOURCES:.2f} ms whole check, "
          f"{1000 * evaluate_s / resources:.3f} ms policy evaluation ({resources} resources)")
    for label, rendering, evaluating in ((f"prod, {prod_resources} resources", prod_render_s, prod_evaluate_s),
                                         (f"{resources} resources", render_s, evaluate_s)):
        print(f"where the time goes ({label}): render subprocess {rendering:.2f} s "
              f"({100 * rendering / (rendering + evaluating):.0f} %), policy evaluation {evaluating:.3f} s")


if __name__ == "__main__":
    main()
