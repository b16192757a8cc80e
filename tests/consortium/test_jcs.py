"""Our JCS fast path writes exactly what the rfc8785 reference library writes."""
from __future__ import annotations

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from consortium.signing import jcs

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**60), max_value=2**60) | st.text(),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=8), children, max_size=5),
    max_leaves=30,
)


@settings(max_examples=500, deadline=None)
@given(json_values)
def test_jcs_is_byte_identical_to_the_reference_library(value: object) -> None:
    try:
        expected = rfc8785.dumps(value)
    except rfc8785.CanonicalizationError:
        with pytest.raises(ValueError):
            jcs(value)
        return
    assert jcs(value) == expected


def test_keys_sort_by_utf16_code_units_as_rfc_8785_requires() -> None:
    # U+E000 sorts after U+1F600 in UTF-16 (0xE000 > 0xD83D) but before it by code point.
    value = {"\ue000": 1, "\U0001f600": 2, "a": 3}
    assert jcs(value) == rfc8785.dumps(value) == '{"a":3,"\U0001f600":2,"\ue000":1}'.encode()


@pytest.mark.parametrize("value", [1.5, {"a": [1, {"b": 0.0}]}, {"\u00e9": {"x": 2.0}}])
def test_floats_anywhere_are_refused(value: object) -> None:
    with pytest.raises(ValueError, match="integers only"):
        jcs(value)
