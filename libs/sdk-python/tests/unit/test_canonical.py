import math

import pytest

from warden import CanonicalJsonError, canonical_json, digest


@pytest.mark.parametrize(
    "value,text",
    [
        (0.0, "0"),
        (-0.0, "0"),
        (42.0, "42"),
        (10.5, "10.5"),
        (1e21, "1e+21"),
        (1e20, "100000000000000000000"),
        (123456789012345680000.0, "123456789012345680000"),
        (1e-6, "0.000001"),
        (1e-7, "1e-7"),
        (1.5e-7, "1.5e-7"),
        (-2.5e-10, "-2.5e-10"),
        (5e-324, "5e-324"),
        (1.7976931348623157e308, "1.7976931348623157e+308"),
        (0.1 + 0.2, "0.30000000000000004"),
        (2**53, "9007199254740992"),
        (-(2**53), "-9007199254740992"),
        (True, "true"),
        (None, "null"),
    ],
)
def test_numbers_and_literals_as_ecmascript_writes_them(value, text):
    assert canonical_json(value) == text


def test_an_integral_float_and_an_int_have_one_digest():
    # The gate reads arguments as protobuf Struct (doubles): 42 and 42.0 are the same number.
    assert digest({"ticket": 42}) == digest({"ticket": 42.0})


def test_strings_escape_as_json_stringify():
    assert canonical_json("a\"b\\c\n\t\x01\x7f€") == '"a\\"b\\\\c\\n\\t\\u0001\x7f€"'


def test_members_sort_by_utf16_code_units():
    # U+FB33 sorts after the surrogate pair of U+1F600 in UTF-16, though not in code points.
    assert canonical_json({"\ufb33": 1, "\U0001f600": 2, "a": 3}) == '{"a":3,"\U0001f600":2,"\ufb33":1}'


def test_tuples_are_arrays_and_nesting_sorts_every_level():
    assert canonical_json({"b": ({"y": 1, "x": [None]},), "a": {}}) == '{"a":{},"b":[{"x":[null],"y":1}]}'


@pytest.mark.parametrize(
    "value,path",
    [
        ({"a": math.nan}, "/a"),
        ({"a": [1, math.inf]}, "/a/1"),
        ({"a/b": "\ud800"}, "/a~1b"),
        ({"n": 2**53 + 1}, "/n"),
        ({1: "x"}, ""),
        ({"s": {1, 2}}, "/s"),
    ],
)
def test_what_has_no_canonical_form_is_refused_with_its_pointer(value, path):
    with pytest.raises(CanonicalJsonError) as error:
        canonical_json(value)
    assert error.value.path == path
