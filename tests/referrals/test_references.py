import pytest
from hypothesis import given
from hypothesis import strategies as st

from referrals.references import REFERENCE_ALPHABET, new_reference_code

LOOK_ALIKES = set("0O1IL2Z5S8B6GQDUV")


def test_the_alphabet_has_no_characters_people_confuse():
    assert not LOOK_ALIKES & set(REFERENCE_ALPHABET)


@given(st.integers(5, 12))
def test_a_code_has_the_asked_length_and_only_readable_characters(length):
    code = new_reference_code(length)
    assert len(code) == length
    assert set(code) <= set(REFERENCE_ALPHABET)


@pytest.mark.parametrize("length", [0, 4, 13])
def test_a_code_too_short_to_be_unique_or_too_long_to_store_is_refused(length):
    with pytest.raises(ValueError):
        new_reference_code(length)
