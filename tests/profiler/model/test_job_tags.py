"""Job tags: a control character in the key is refused like one in the value."""

from __future__ import annotations

import pytest

from profiler.model.job import parse_tag, tag_problem


@pytest.mark.parametrize("text", ["k\t=v", "\tk=v", "k\x1b[31m=v", "k\r=v", "k\u202e=v"])
def test_a_control_character_in_the_key_is_refused_not_stripped(text: str) -> None:
    with pytest.raises(ValueError, match="control characters") as caught:
        parse_tag(text)
    assert "\n" not in str(caught.value)


def test_the_same_characters_in_the_value_are_refused_too() -> None:
    with pytest.raises(ValueError, match="control characters"):
        parse_tag("k=v\t")


def test_spaces_around_the_key_are_dropped_and_the_value_kept_as_given() -> None:
    assert parse_tag(" desk =fx options") == ("desk", "fx options")
    assert parse_tag("expr=a=b") == ("expr", "a=b")


@pytest.mark.parametrize(
    ("text", "problem"),
    [("desk", "use KEY=VALUE"), ("=x", "the key is empty"), ("desk=", "the value is empty")],
)
def test_malformed_tags_say_what_to_write(text: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        parse_tag(text)


def test_tag_problem_accepts_a_plain_tag() -> None:
    assert tag_problem("desk", "fx") is None
