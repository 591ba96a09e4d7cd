"""Mutation pins for ``modelway.stages.privacy``: every column-name hint and value pattern, the share
threshold on both sides, the Luhn test of card numbers, the masking, and the gate's message with
waivers (given, blank, and for columns without personal data)."""
from __future__ import annotations

import doctest

import pandas as pd
import pytest

import modelway.stages.privacy as privacy
from modelway.stages.privacy import find_pii, mask, pii_check


def test_docstring_examples_hold():
    result = doctest.testmod(privacy, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


@pytest.mark.parametrize(("column", "kind"), [
    ("email", "email"), ("E_Mail", "email"), ("work_email_2", "email"),
    ("phone", "phone"), ("mobile", "phone"), ("msisdn", "phone"), ("tel", "phone"), ("home tel", "phone"), ("telephone", "phone"),
    ("ssn", "national id"), ("social_security", "national id"), ("socialsecurity", "national id"), ("national_id", "national id"),
    ("nationalid", "national id"), ("nino", "national id"), ("passport", "national id"), ("tax_id", "national id"),
    ("taxid", "national id"),
    ("first_name", "personal name"), ("lastname", "personal name"), ("full_name", "personal name"), ("given_name", "personal name"),
    ("family_name", "personal name"), ("middle_name", "personal name"), ("applicant_firstname", "personal name"),
    ("Name", "personal name"), ("surname", "personal name"),
    ("address", "address"), ("street", "address"), ("postcode", "address"), ("zip_code", "address"), ("zipcode", "address"),
    ("dob", "birth date"), ("date_of_birth", "birth date"), ("dateofbirth", "birth date"), ("birth_date", "birth date"),
    ("birthdate", "birth date"),
    ("credit_card", "payment card"), ("creditcard", "payment card"), ("card_number", "payment card"), ("cardnumber", "payment card"),
    ("pan", "payment card"), ("iban", "payment card"),
])
def test_every_column_name_hint(column, kind):
    assert find_pii(pd.DataFrame({column: [1.0]})) == {column: {"kind": kind, "by": "column name", "share": None, "example": None}}


@pytest.mark.parametrize("column", ["hotel", "company_name", "names", "username", "pancake", "nickname_x", "zip", "age", "region"])
def test_names_that_only_look_alike_are_not_flagged(column):
    assert find_pii(pd.DataFrame({column: [1.0]})) == {}


def _luhn_complete(prefix: str) -> str:
    """``prefix`` plus the check digit that makes it Luhn-valid (the textbook form: double every second digit from the right)."""
    prefix = prefix.replace(" ", "")
    for check in "0123456789":
        digits = [int(d) for d in prefix + check][::-1]
        total = sum(d if i % 2 == 0 else sum(divmod(2 * d, 10)) for i, d in enumerate(digits))
        if total % 10 == 0:
            return prefix + check
    raise AssertionError


@pytest.mark.parametrize(("value", "kind", "masked"), [
    ("jane.doe@example.com", "email", "j***.d***@e***.c***"),
    ("a+b-c@mail-host.co.uk", "email", "a***+b***-c***@m***-h***.c***.u***"),
    ("+44 (20) 7946-0958", "phone", "+4*** (2***) 7***-0***"),
    ("0201234567", "phone", "0***"),
    ("123-45-6789", "US SSN", "1***-4***-6***"),
    ("AB 12 34 56 C", "UK NINO", "A*** 1*** 3*** 5*** C***"),
    ("ab123456d", "UK NINO", "a***"),
    ("DE89370400440532013000", "IBAN", "D***"),
    ("GB82 WEST 1234 5698 7654 32", "IBAN", "G*** W*** 1*** 5*** 7*** 3***"),
    ("Jane Doe", "personal name", "J*** D***"),
    ("Mary-Ann Smith", "personal name", "M***-A*** S***"),
    ("Ana Da'Costa", "personal name", "A*** D***'C***"),
    ("4111 1111 1111 1111", "payment card", "4*** 1*** 1*** 1***"),
    ("4111-1111-1111-1111", "payment card", "4***-1***-1***-1***"),
    ("4222222222222", "payment card", "4***"),
])
def test_every_value_pattern_is_named_and_masked(value, kind, masked):
    found = find_pii(pd.DataFrame({"col": [value, value, None]}))
    assert found == {"col": {"kind": kind, "by": "values", "share": 1.0, "example": masked}}


def test_card_numbers_must_pass_luhn_and_have_13_to_19_digits():
    assert privacy._is_card("4111111111111111") and privacy._is_card("5555 5555 5555 4444")
    assert not privacy._is_card("4111111111111112")                        # one digit off: Luhn fails
    assert privacy._is_card(_luhn_complete("555555555555"))                 # 13 digits
    assert privacy._is_card(_luhn_complete("601100099013942455"))           # 19 digits
    assert not privacy._is_card(_luhn_complete("6011000990139424551"))      # 20 digits
    twelve = _luhn_complete("41111111111")
    assert not privacy._is_card(f"{twelve[:4]} {twelve[4:8]} {twelve[8:]}")       # 12 digits in 14 characters
    assert not privacy._is_card("4111 1111 1111 111a") and not privacy._is_card("x4111111111111111")
    for lead in "0123456789":                                               # every doubled digit, 0-4 and 5-9
        assert privacy._is_card(_luhn_complete(lead * 15)) and privacy._is_card(_luhn_complete("1" + lead * 14))
    invalid = find_pii(pd.DataFrame({"n": ["4111 1111 1111 1112"] * 3}))
    assert invalid["n"]["kind"] == "phone"                                  # not a card number: a long phone number


@pytest.mark.parametrize("value", ["not pii", "12", "jane doe", "Jane", "A B", "Jane Mary Ann Doe", "@example.com", "1234567",
                                   "QQ 12 34 56 C", "de89370400440532013000", "DE89 3704"])
def test_text_that_is_no_personal_data(value):
    assert find_pii(pd.DataFrame({"col": [value]})) == {}


def test_the_share_threshold_and_the_sample():
    values = ["a@b.example"] + ["x"] * 4
    assert find_pii(pd.DataFrame({"c": values}))["c"]["share"] == 0.2                       # 1 of 5: at the default 0.2
    assert find_pii(pd.DataFrame({"c": values}), min_share=0.21) == {}
    assert find_pii(pd.DataFrame({"c": values + ["y"]})) == {}                              # 1 of 6 < 0.2
    assert find_pii(pd.DataFrame({"c": ["x"] * 500 + ["a@b.example"] * 500})) == {}          # only the first 500 are read
    assert find_pii(pd.DataFrame({"c": ["x"] * 3 + ["a@b.example"] * 2}), sample=4)["c"]["share"] == 0.25
    assert find_pii(pd.DataFrame({"c": ["x"] * 499 + ["a@b.example"] * 501}), min_share=0.002)["c"]["share"] == 0.002
    assert find_pii(pd.DataFrame({"c": [" a@b.example "]}))["c"]["example"] == "a***@b***.e***"   # blanks are stripped


def test_numbers_empty_columns_and_the_first_matching_kind():
    frame = pd.DataFrame({"n": [1234567890123] * 2, "e": [None, None], "f": pd.Series(["Jane Doe", None], dtype="string")})
    assert find_pii(frame) == {"f": {"kind": "personal name", "by": "values", "share": 1.0, "example": "J*** D***"}}
    mixed = pd.DataFrame({"m": ["a@b.example", "Jane Doe", "Jane Doe", "x@y.example"]})
    assert find_pii(mixed)["m"]["kind"] == "email" and find_pii(mixed)["m"]["share"] == 0.5
    assert find_pii(pd.DataFrame({3: ["a@b.example"]})) == {"3": {"kind": "email", "by": "values", "share": 1.0, "example": "a***@b***.e***"}}


def test_mask_keeps_the_first_character_of_each_part():
    assert mask("Jane_Doe 42") == "J***_D*** 4***"
    assert mask(12345) == "1***" and mask("") == "" and mask("--") == "--"


# --- the gate -----------------------------------------------------------------------------------------


FRAME = pd.DataFrame({"contact": ["ann@example.com", "bo@example.org"], "phone": ["1", "2"], "income": [1.0, 2.0]})


def test_unwaived_columns_fail_with_names_kinds_and_masked_examples():
    check = pii_check(FRAME, {})
    assert (check.name, check.passed, check.observed, check.count, check.category) == (
        "privacy.pii", False, ["contact", "phone"], 2, "privacy")
    assert check.message == ("2 column(s) hold personal data: contact (email, by values), phone (phone, by column name); "
                             "drop or pseudonymise them, or waive each in the contract's pii_waivers with a reason")
    assert check.examples == [{"column": "contact", "kind": "email", "found_by": "values", "masked_example": "a***@e***.c***"},
                              {"column": "phone", "kind": "phone", "found_by": "column name"}]


def test_waivers_with_a_reason_pass_blank_ones_do_not_and_stale_ones_are_said():
    waived = pii_check(FRAME, {"contact": "hashed", "phone": "dropped", "income": "not personal", "gone": "old"})
    assert (waived.passed, waived.observed, waived.count, waived.examples) == (True, None, None, [])
    assert waived.message == ("no personal data found in 3 columns (names and values); waived: contact (email: hashed), phone (phone: dropped)"
                              "; waivers for columns without personal data: gone, income")
    half = pii_check(FRAME, {"contact": " ", "phone": "dropped"})
    assert not half.passed and half.observed == ["contact"] and half.count == 1
    assert half.message == ("1 column(s) hold personal data: contact (email, by values); drop or pseudonymise them, or waive each in the "
                            "contract's pii_waivers with a reason; waived: phone (phone: dropped)")
    # a real bug, fixed: a waiver of None (no reason given) passed, with the reason "None"
    assert pii_check(FRAME, {"contact": None, "phone": "x"}).observed == ["contact"]
    clean = pii_check(FRAME[["income"]], {})
    assert clean.passed and clean.message == "no personal data found in 1 columns (names and values)"
    assert clean.observed is None and clean.count is None


def test_the_gate_uses_min_share():
    frame = pd.DataFrame({"c": ["a@b.example", "x", "y"]})
    assert not pii_check(frame, {}).passed
    assert pii_check(frame, {}, min_share=0.34).passed


def test_the_first_name_hint_decides_and_values_are_then_not_read():
    assert find_pii(pd.DataFrame({"email_address": ["x"]}))["email_address"]["kind"] == "email"
    assert find_pii(pd.DataFrame({"email": ["Jane Doe", "John Smith"]})) == {
        "email": {"kind": "email", "by": "column name", "share": None, "example": None}}


def test_the_share_is_rounded_to_four_places():
    assert find_pii(pd.DataFrame({"c": ["a@b.example", "x", "y"]}))["c"]["share"] == 0.3333
