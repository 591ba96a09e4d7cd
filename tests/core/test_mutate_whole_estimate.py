"""The whole-package mutation estimate's own logic (tools/mutate_whole.py), without running any
suite: the sample, the choice of tests per mutant, what counts as a kill, the interval."""
from __future__ import annotations

import importlib.util
import sys
from collections import Counter
from pathlib import Path

import pytest

TOOLS = Path(__file__).resolve().parents[2] / "tools"


@pytest.fixture(scope="module")
def whole():
    if not (TOOLS / "mutate_whole.py").exists():  # the suite run inside a mutation copy, which has no tools/
        pytest.skip("tools/ is not in this tree")
    sys.path.insert(0, str(TOOLS))
    try:
        spec = importlib.util.spec_from_file_location("mutate_whole", TOOLS / "mutate_whole.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules["mutate_whole"] = module  # its dataclasses look their module up while defined
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop("mutate_whole", None)
        sys.modules.pop("mutate", None)
        sys.path.remove(str(TOOLS))


def mutant(whole, path="platform/modelway/stages/gates.py", line=3, index=0, text="x = 1"):
    return whole.Mutant(path, line - 1, index, text)


# --- the sample -------------------------------------------------------------------------------

def test_the_sample_is_fixed_by_its_seed_and_has_no_repeats(whole) -> None:
    population = [mutant(whole, line=n) for n in range(1, 1001)]
    first = whole.draw(population, 200, seed=7)
    assert first == whole.draw(population, 200, seed=7)
    assert first != whole.draw(population, 200, seed=8)
    assert len(first) == len(set(first)) == 200
    assert set(first) <= set(population)
    # A sample larger than the population is all of it.
    assert sorted(whole.draw(population[:5], 200, seed=7), key=lambda m: m.line_number) == population[:5]


def test_every_mutant_is_equally_likely_to_be_drawn(whole) -> None:
    # Over 2000 seeds, each of 20 mutants is drawn about 2000 * 5/20 = 500 times (a binomial with
    # sd ~19): a sample weighted by file or by position would be far outside 430..570.
    population = [mutant(whole, line=n) for n in range(1, 21)]
    counts = Counter(m for seed in range(2000) for m in whole.draw(population, 5, seed))
    assert set(counts) == set(population)
    assert all(430 <= c <= 570 for c in counts.values()), counts
    # ... and at every position, so a run cut by the budget (a prefix) is a uniform sample too.
    firsts = Counter(whole.draw(population, 5, seed)[0] for seed in range(2000))
    assert all(60 <= c <= 145 for c in firsts.values()), firsts


def test_a_mutant_names_its_sub_package(whole) -> None:
    assert mutant(whole, path="platform/modelway/stages/gates.py").package == "stages"
    assert mutant(whole, path="platform/modelway/cli/commands/run.py").package == "cli"
    assert mutant(whole, path="platform/modelway/errors.py").package == "(top level)"
    assert mutant(whole, line=12, index=2).key == "platform/modelway/stages/gates.py:12:2"


# --- which tests run a mutant --------------------------------------------------------------------

SOURCE = '''\
LIMIT = 3


@decorate
def check(value,
          other=1):
    if (value >
            LIMIT):
        return other
    return compute(value,
                   other)
'''
PATH = "platform/modelway/stages/gates.py"


def index(lines: dict[int, list[str]], tests: dict[str, tuple[str, float]]) -> dict:
    return {"tests": {t: {"outcome": o, "duration": d} for t, (o, d) in tests.items()},
            "lines": {PATH: {str(n): ts for n, ts in lines.items()}}}


def test_a_statement_is_all_its_lines_and_a_block_only_its_header(whole) -> None:
    assert whole.statement_lines(SOURCE, 1) == [1]
    assert whole.statement_lines(SOURCE, 8) == [7, 8]          # the condition's second line
    assert whole.statement_lines(SOURCE, 9) == [9]             # the body is not the if's header
    assert whole.statement_lines(SOURCE, 11) == [10, 11]       # a call over two lines
    assert whole.statement_lines(SOURCE, 6) == [4, 5, 6]       # def header with its decorator


TESTS = {"t::slow": ("passed", 5.0), "t::fast": ("passed", 0.1), "t::mid": ("passed", 1.0),
         "t::broken": ("failed", 0.2), "t::skipped": ("skipped", 0.0), "t::other": ("passed", 0.3)}


def test_the_tests_are_those_that_ran_the_statement_and_passed_fastest_first(whole) -> None:
    idx = index({7: ["t::slow", "t::fast", "t::broken", "t::skipped"], 8: ["t::mid"], 9: ["t::other"]}, TESTS)
    chosen = whole.select(mutant(whole, line=8), idx, SOURCE, cap_s=60, cap_tests=100)
    assert chosen.tests == ["t::fast", "t::mid", "t::slow"]
    assert (chosen.capped, chosen.import_only) == (0, False)
    assert chosen.seconds == pytest.approx(6.1)


def test_the_cap_leaves_out_the_slowest_tests_and_says_how_many(whole) -> None:
    idx = index({7: ["t::slow", "t::fast", "t::mid"]}, TESTS)
    by_time = whole.select(mutant(whole, line=7), idx, SOURCE, cap_s=1.1, cap_tests=100)
    assert (by_time.tests, by_time.capped) == (["t::fast", "t::mid"], 1)
    by_count = whole.select(mutant(whole, line=7), idx, SOURCE, cap_s=60, cap_tests=1)
    assert (by_count.tests, by_count.capped) == (["t::fast"], 2)
    # The first test always runs, however slow: a mutant is never left untested by the cap alone.
    alone = whole.select(mutant(whole, line=7), index({7: ["t::slow"]}, TESTS), SOURCE, cap_s=1, cap_tests=1)
    assert (alone.tests, alone.capped) == (["t::slow"], 0)


def test_tests_whose_file_imports_the_module_go_first(whole, tmp_path) -> None:
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests/test_direct.py").write_text("from modelway.stages.gates import decide\n")
    (tmp_path / "tests/test_parent.py").write_text("from modelway.stages import gates, lifecycle\n")
    (tmp_path / "tests/test_near_miss.py").write_text("from modelway.stages import gatesx\nimport modelway.stages\n")
    (tmp_path / "tests/test_init.py").write_text("import modelway.contracts\n")
    assert whole.test_names_module("tests/test_direct.py::t", PATH, tmp_path)
    assert whole.test_names_module("tests/test_parent.py::t", PATH, tmp_path)
    assert not whole.test_names_module("tests/test_near_miss.py::t", PATH, tmp_path)
    assert not whole.test_names_module("tests/missing.py::t", PATH, tmp_path)
    assert whole.test_names_module("tests/test_init.py::t", "platform/modelway/contracts/__init__.py", tmp_path)
    idx = index({7: ["t::slow", "t::fast", "t::mid"]}, TESTS)
    chosen = whole.select(mutant(whole, line=7), idx, SOURCE, cap_s=60, cap_tests=100,
                          names_module=lambda test: test == "t::slow")
    assert chosen.tests == ["t::slow", "t::fast", "t::mid"]
    capped = whole.select(mutant(whole, line=7), idx, SOURCE, cap_s=1, cap_tests=100,
                          names_module=lambda test: test == "t::slow")
    assert (capped.tests, capped.capped) == (["t::slow"], 2)


def test_a_line_run_only_at_import_is_tested_by_every_test_of_its_file(whole) -> None:
    idx = index({1: [""], 7: ["t::mid", ""], 9: ["t::other", "t::broken"]}, TESTS)
    chosen = whole.select(mutant(whole, line=1, text="LIMIT = 3"), idx, SOURCE, cap_s=60, cap_tests=100)
    assert chosen.import_only
    assert chosen.tests == ["t::other", "t::mid"]


USES = '''\
TABLE = {"m": 60}
OTHER = 2


class Limits:
    cpu_s: float | None = None

    def scaled(self, unit, *, strict=False):
        if strict:
            return TABLE[unit] * OTHER
        return self.cpu_s
'''


def test_what_an_import_time_statement_defines_is_followed_to_the_lines_that_use_it(whole) -> None:
    assert whole.use_lines(USES, 1) == {10}                 # a constant: where the file reads it
    assert whole.use_lines(USES, 2) == {10}
    assert whole.use_lines(USES, 6) == {11}                 # a field's default: where it is read
    assert whole.use_lines(USES, 8) == {9, 10, 11}          # a def's defaults: its body
    assert whole.use_lines(USES, 5) == set(range(6, 12))    # a class header: its body
    assert whole.use_lines(USES, 9) == set()                # an if: defines nothing to follow


def test_an_import_time_line_runs_the_tests_of_its_uses_first(whole) -> None:
    path = "platform/modelway/stages/gates.py"
    tests = {"t::fast": ("passed", 0.1), "t::user": ("passed", 3.0), "t::direct": ("passed", 0.2),
             "t::broken": ("failed", 0.1)}
    idx = {"tests": {t: {"outcome": o, "duration": d} for t, (o, d) in tests.items()},
           "lines": {path: {"1": [""], "9": ["t::fast", "t::direct"], "10": ["t::user", "t::broken"]}}}
    chosen = whole.select(mutant(whole, path=path, line=1, text='TABLE = {"m": 60}'), idx, USES, cap_s=60,
                          cap_tests=100, names_module=lambda test: test == "t::direct")
    assert chosen.import_only
    assert chosen.tests == ["t::user", "t::direct", "t::fast"]
    # The cap then leaves out the others, not the user.
    capped = whole.select(mutant(whole, path=path, line=1, text='TABLE = {"m": 60}'), idx, USES, cap_s=1,
                          cap_tests=100, names_module=lambda test: test == "t::direct")
    assert (capped.tests, capped.capped) == (["t::user"], 2)
    # Run at import in the pytest process and again in a test's own process (a CLI run): that
    # test alone would miss the tests that use the constant in-process, so they come first.
    idx["tests"]["t::cli"] = {"outcome": "passed", "duration": 0.05}
    idx["lines"][path]["1"] = ["", "t::cli"]
    again = whole.select(mutant(whole, path=path, line=1, text='TABLE = {"m": 60}'), idx, USES, cap_s=60,
                         cap_tests=100, names_module=lambda test: test == "t::direct")
    assert not again.import_only
    assert again.tests == ["t::user", "t::direct", "t::cli", "t::fast"]


def test_a_line_no_passing_test_runs_gets_no_tests(whole) -> None:
    idx = index({7: ["t::broken", "t::skipped"], 9: ["t::fast"]}, TESTS)
    assert whole.select(mutant(whole, line=7), idx, SOURCE, cap_s=60, cap_tests=100).tests == []
    assert whole.select(mutant(whole, line=11), idx, SOURCE, cap_s=60, cap_tests=100).tests == []


# --- what counts ----------------------------------------------------------------------------------

def test_only_a_failing_test_kills_a_mutant(whole) -> None:
    m = mutant(whole)
    chosen = whole.Selection(["t::a", "t::b"])
    output = "F\n=== short test summary info ===\nFAILED t::a - AssertionError: 1 != 2\n!!! stopping after 1 failures"
    killed = whole.classify(m, chosen, 1, output)
    assert (killed.status, killed.killer) == ("killed", "t::a")
    assert whole.classify(m, chosen, 0, "..").status == "survived"
    # No tests collected (5), an internal error (3): no evidence, not a kill. (A broken import, exit 2
    # or 4 with node ids, reaches classify as 1: tools/mutate.py's RUNNER maps it.)
    for code in (3, 5):
        result = whole.classify(m, chosen, code, "")
        assert (result.status, result.why) == ("survived", f"pytest exit {code}, counted as survived")


def test_a_survivor_says_whether_the_cap_or_the_import_rule_chose_its_tests(whole) -> None:
    m = mutant(whole)
    capped = whole.classify(m, whole.Selection(["t::a"], capped=3), 0, "")
    assert (capped.status, capped.why) == ("survived", "3 covering tests left out by the cap")
    imported = whole.classify(m, whole.Selection(["t::a"], import_only=True), 0, "")
    assert imported.why == "the tests that run it passed (line runs at import only)"


def test_the_score_counts_timeouts_and_capped_survivors_against_and_leaves_out_unrun_and_equivalent(whole) -> None:
    def r(status, line, why=""):
        return whole.Result(mutant(whole, line=line, text=f"x = {line}"), status, why)

    results = [r("killed", 1), r("killed", 2), r("killed", 3), r("timeout", 4, "ran past 70s"),
               r("survived", 5, "2 covering tests left out by the cap"), r("survived", 6, "no passing test runs this line"),
               r("not run", 7), r("survived", 8, "the tests that run it passed")]
    equivalent = [{"path": PATH, "line": "x = 8", "reason": "dead constant"}]
    text = whole.render(results, 8, 1000, 3, equivalent, {"tests": {}, "lines": {}}, diffs=False)
    lines = text.splitlines()
    assert lines[0] == ("whole package (platform/modelway): 1000 mutants; sample of 8 drawn with seed 3, "
                        "7 run (1 not run: budget)")
    assert lines[2] == "killed 3  survived 2  timeout 1  equivalent 1 (not scored)"
    low, high = whole.wilson(3, 6)
    assert lines[3] == f"score 50.0% of 6, 95% CI {low:.1%}-{high:.1%} (Wilson)"
    assert "stages                 6       3         2        1     50%" in lines
    assert ("not killed, by reason: 1 timeout; 1 covering tests left out by the cap; "
            "1 no passing test runs this line") in lines
    assert "  platform/modelway/stages/gates.py:5 [survived: 2 covering tests left out by the cap]" in lines
    assert "  platform/modelway/stages/gates.py:8: dead constant" in lines


def test_the_wilson_interval(whole) -> None:
    # Reference values of the Wilson score interval (z = 1.96).
    assert whole.wilson(0, 10) == (0.0, pytest.approx(0.2775, abs=1e-4))
    assert whole.wilson(10, 10) == (pytest.approx(0.7225, abs=1e-4), 1.0)
    assert whole.wilson(150, 200) == (pytest.approx(0.6857, abs=1e-4), pytest.approx(0.8049, abs=1e-4))
    assert whole.wilson(0, 0) == (0.0, 1.0)
