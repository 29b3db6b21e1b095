import pytest
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.mutuapix.infra.plugins.module_utils.secrets import (
    MIN_LENGTH,
    PLACEHOLDER_WORDS,
    secret_weakness,
)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (None, "it is not set"),
        (12345678901234567890, "it is not a string"),
        ("", "it is empty"),
        ("   \t ", "it is empty"),
        ("short-but-random", ""),  # exactly 16 characters is enough
        ("Zq8vR2mK4pL9wX1", "it is shorter than 16 characters"),
        ("{{ vault_db_password }}", "it looks like an unrendered template"),
        ("changeme-changeme-changeme", "it contains the placeholder 'changeme'"),
        ("CHANGE_ME_BEFORE_PRODUCTION", "it contains the placeholder 'changeme'"),
        ("Change-Me-Please-Now!", "it contains the placeholder 'changeme'"),
        ("MySuperPassword2024", "it contains the placeholder 'password'"),
        ("top.secret.value.for.db", "it contains the placeholder 'secret'"),
        ("example-example-example", "it contains the placeholder 'example'"),
        ("abababababababababab", "it uses fewer than 4 distinct characters"),
        ("tY7#kQ2@pZ9!mW4$", ""),
        ("N4rq8WcYpZ3sLx0aVd6TeB1u", ""),
    ],
)
def test_reasons_table(value, reason):
    assert secret_weakness(value) == reason


@pytest.mark.parametrize("word", PLACEHOLDER_WORDS)
def test_every_placeholder_word_is_refused_inside_a_long_value(word):
    assert "placeholder" in secret_weakness(f"Q7v{word.upper()}Zk3mW9pL2xR8")


@given(st.text(min_size=1))
def test_reason_never_contains_the_value(value):
    reason = secret_weakness(value)
    if len(value) >= 4 and reason:
        assert value not in reason


@given(st.text(alphabet=st.characters(whitelist_categories=("Lu", "Ll", "Nd")), max_size=MIN_LENGTH - 1))
def test_anything_shorter_than_the_minimum_is_refused(value):
    assert secret_weakness(value) != ""
