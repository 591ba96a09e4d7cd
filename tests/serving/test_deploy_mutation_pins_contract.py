"""Mutation pins of the endpoint contract tests: every check's name and detail, on tiny versions over real HTTP."""
from __future__ import annotations

import re

from modelway.deploy.contract import RESPONSE_TIME_ATTEMPTS, ContractReport, _check_400, _check_scores, run_contract_tests
from modelway.registry import get_registry
from modelway.serving.client import Reply
from tests.serving.tiny_models import SCHEMA, register_tiny

EP = "tiny"
KEYS = {"prediction", "probability"}


def test_report_passes_only_when_every_check_does():
    assert ContractReport().passed and ContractReport().failures == []
    r = ContractReport([("a", True, "fine"), ("b", False, "broken"), ("c", False, "worse")])
    assert not r.passed and r.failures == ["b: broken", "c: worse"]
    assert r.to_dict() == {"passed": False, "checks": [{"name": "a", "passed": True, "detail": "fine"},
                                                       {"name": "b", "passed": False, "detail": "broken"},
                                                       {"name": "c", "passed": False, "detail": "worse"}]}


def _scores(body: bytes, rows: int = 2, status: int = 200, keys=KEYS):
    report = ContractReport()
    _check_scores(report, "batch", Reply(status, {}, body), rows, keys)
    return report.checks[0]


def test_score_checks_count_rows_keys_and_finite_values():
    two = b'{"predictions": [{"prediction": 1, "probability": 0.5}, {"prediction": "a", "probability": 1}]}'
    assert _scores(two) == ("batch", True, "2 predictions for 2 rows, keys ['prediction', 'probability']")
    assert _scores(two, rows=3) == ("batch", False, "2 predictions for 3 rows, keys ['prediction', 'probability']")
    assert _scores(b'{"predictions": [{"prediction": 1}, {"prediction": 0}]}') == \
        ("batch", False, "2 predictions for 2 rows, keys ['prediction']")
    assert _scores(b'{"predictions": [{"prediction": 1}, {"prediction": 0}]}', keys={"prediction"})[1] is True
    assert _scores(b'{"predictions": [{"prediction": 1, "probability": NaN}]}', rows=1) == \
        ("batch", False, "1 predictions for 1 rows, keys ['prediction', 'probability'], non-finite values")
    assert _scores(b'{"predictions": [{"prediction": Infinity, "probability": 1.0}]}', rows=1)[1] is False
    assert _scores(b'{"predictions": [{"prediction": null, "probability": 1.0}]}', rows=1)[1] is False
    assert _scores(b'{"predictions": [{"prediction": [1], "probability": 1.0}]}', rows=1)[1] is False
    assert _scores(b'{"predictions": [{"prediction": 1.5, "probability": 1.0}]}', rows=1)[1] is True
    assert _scores(b'{}', rows=0, keys=set()) == ("batch", True, "0 predictions for 0 rows, keys []")
    assert _scores(b"x" * 300, status=503) == ("batch", False, f"HTTP 503: {(b'x' * 200)!r}")


def test_400_checks_need_the_status_and_the_field_name():
    def check(status: int, body: bytes, name: str = "age"):
        report = ContractReport()
        _check_400(report, "missing", Reply(status, {}, body), name)
        return report.checks[0]

    assert check(400, b'{"error": "row 0: missing field \'age\'"}') == ("missing", True, "HTTP 400: row 0: missing field 'age'")
    assert check(400, b'{"error": "something else"}') == ("missing", False, "HTTP 400: something else")
    assert check(400, b'{}') == ("missing", False, "HTTP 400: ")
    assert check(400, ('{"error": "age ' + "x" * 300 + '"}').encode())[2] == "HTTP 400: age " + "x" * 156
    assert check(200, b'{"predictions": ["age"]}') == ("missing", False, 'HTTP 200: {"predictions": ["age"]}')
    assert check(500, b"age \xff" + b"y" * 300)[2] == "HTTP 500: age \ufffd" + "y" * 155


def test_a_compatible_version_passes_every_check(home):
    v1, v2 = register_tiny(home, "one"), register_tiny(home, "two")
    report = run_contract_tests(get_registry(home), home, EP, v2, v1, latency_requests=5)
    assert report.passed, report.failures
    names = [(n, d) for n, _, d in report.checks]
    assert names[:7] == [
        ("compatible fields", f"2 fields, all sent by {v1}'s clients"),
        ("same task", "classification -> classification"),
        ("JSON record", "1 predictions for 1 rows, keys ['prediction', 'probability']"),
        ("JSON split batch", "20 predictions for 20 rows, keys ['prediction', 'probability']"),
        ("CSV batch", "20 predictions for 20 rows, keys ['prediction', 'probability']"),
        ("missing field is a 400", "HTTP 400: missing field(s) ['x'] (every row); the model expects ['x', 'color']"),
        ("wrong type is a 400", "HTTP 400: row 0, field 'x': expected a number, got 'not-a-number'"),
    ]
    assert names[7][0] == "response time" and re.fullmatch(r"p95 \d+\.\d ms \(limit 1000 ms\)", names[7][1])
    first = run_contract_tests(get_registry(home), home, EP, v1, None, latency_requests=5)
    assert first.passed and first.checks[0][2] == f"2 fields, all sent by {v1}'s clients"


def test_a_categorical_first_field_gets_a_number_as_its_wrong_type(home):
    schema = {"features": [["color", "categorical"], ["x", "numeric"]], "task": "classification"}
    v = register_tiny(home, "cat-first", schema=schema)
    report = run_contract_tests(get_registry(home), home, EP, v, None, latency_requests=3)
    checks = {n: (ok, d) for n, ok, d in report.checks}
    assert checks["wrong type is a 400"] == (True, "HTTP 400: row 0, field 'color': expected a category (string), got 12345")
    assert checks["missing field is a 400"][1].startswith("HTTP 400: missing field(s) ['color']")


def test_incompatible_fields_or_task_stop_before_any_server(home):
    v1 = register_tiny(home, "one")
    kind = register_tiny(home, "kind", schema={"features": [["x", "categorical"], ["color", "categorical"]],
                                               "task": "classification"})
    report = run_contract_tests(get_registry(home), home, EP, kind, v1)
    assert report.checks == [("compatible fields", False, "needs fields the previous clients do not send: []; "
                                                           "kind changed: ['x']"),
                             ("same task", True, "classification -> classification")]
    task = register_tiny(home, "task", schema={**SCHEMA, "task": "regression"})
    report = run_contract_tests(get_registry(home), home, EP, task, v1)
    assert report.checks == [("compatible fields", True, f"2 fields, all sent by {v1}'s clients"),
                             ("same task", False, "classification -> regression")]
    fewer = register_tiny(home, "fewer", schema={"features": [["x", "numeric"]], "task": "classification"})
    assert run_contract_tests(get_registry(home), home, EP, fewer, v1, latency_requests=2).checks[0] == \
        ("compatible fields", True, f"1 fields, all sent by {v1}'s clients")


def test_a_failing_version_and_a_slow_limit_fail_their_checks(home):
    v1, bad = register_tiny(home, "one"), register_tiny(home, "bad", fail=True)
    report = run_contract_tests(get_registry(home), home, EP, bad, v1, latency_requests=2)
    checks = {n: (ok, d) for n, ok, d in report.checks}
    assert checks["JSON record"][0] is False and checks["JSON record"][1].startswith(
        "HTTP 500: b'{\"error\":\"model " + bad + " failed: RuntimeError: tiny model failed\"}'")
    assert checks["missing field is a 400"][0] is True  # validation happens before the model is called
    assert RESPONSE_TIME_ATTEMPTS == 3
    slow = run_contract_tests(get_registry(home), home, EP, v1, None, max_p95_ms=0.001, latency_requests=2)
    ok, detail = {n: (ok, d) for n, ok, d in slow.checks}["response time"]
    assert ok is False and re.fullmatch(r"p95 \d+\.\d ms \(limit 0 ms, best of 3 measurements\)", detail)


def test_a_regression_version_answers_predictions_only(home):
    v = register_tiny(home, "reg", schema={**SCHEMA, "task": "regression"})
    report = run_contract_tests(get_registry(home), home, EP, v, None, latency_requests=2)
    checks = {n: (ok, d) for n, ok, d in report.checks}
    assert report.passed, report.failures
    assert checks["JSON record"] == (True, "1 predictions for 1 rows, keys ['prediction']")
    assert checks["same task"] == (True, "regression -> regression")
