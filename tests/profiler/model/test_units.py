"""`model.units`: the one ISO-8601 helper pair and epoch conversions."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from profiler.model.units import DAY_S, HOUR_S, J_PER_KWH, epoch_s, epoch_to_iso, iso_z, parse_iso

# 1970 to 2200: the times a run, a history file or a Prometheus window can carry
utc_times = st.datetimes(
    min_value=datetime(1970, 1, 2), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)
)
offsets = st.integers(min_value=-14 * 60, max_value=14 * 60).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)


@given(when=utc_times, zone=offsets)
def test_stored_form_round_trips_any_instant_in_any_offset(when: datetime, zone: timezone) -> None:
    local = when.astimezone(zone)
    text = iso_z(local, "stored")
    assert text.endswith("Z") and "+" not in text
    back = parse_iso(text)
    assert back == when and back.tzinfo is UTC
    assert iso_z(back, "stored") == text


@given(when=utc_times)
def test_stored_form_keeps_milliseconds_unless_there_are_microseconds(when: datetime) -> None:
    fraction = iso_z(when, "stored").removesuffix("Z").rpartition(".")[2]
    assert len(fraction) == (3 if when.microsecond % 1000 == 0 else 6)


def test_stored_form_examples() -> None:
    assert iso_z(datetime(2026, 11, 29, 19, 30, tzinfo=UTC), "stored") == (
        "2026-11-29T19:30:00.000Z"
    )
    assert iso_z(datetime(2026, 11, 29, 19, 30, 0, 123, tzinfo=UTC), "stored") == (
        "2026-11-29T19:30:00.000123Z"
    )


@given(when=utc_times)
def test_seconds_form_parses_back_to_the_whole_second(when: datetime) -> None:
    assert parse_iso(iso_z(when)) == when.replace(microsecond=0)


def test_iso_z_takes_a_naive_time_as_utc_and_converts_offsets() -> None:
    assert iso_z(datetime(2026, 11, 29, 19, 30)) == "2026-11-29T19:30:00Z"
    plus_two = datetime(2026, 11, 29, 21, 30, tzinfo=timezone(timedelta(hours=2)))
    assert iso_z(plus_two) == "2026-11-29T19:30:00Z"
    assert iso_z(plus_two, "milliseconds") == "2026-11-29T19:30:00.000Z"


@pytest.mark.parametrize(
    "text",
    [
        "2026-11-29T19:30:00Z",
        "2026-11-29T19:30:00z",
        "2026-11-29T19:30:00+00:00",
        "2026-11-29T21:30:00+02:00",
        "2026-11-29T14:00:00-05:30",
        "2026-11-29T19:30:00",  # no offset: UTC
        "  2026-11-29T19:30:00Z\n",
    ],
)
def test_parse_iso_accepts_z_offsets_and_naive_text(text: str) -> None:
    when = parse_iso(text)
    assert when == datetime(2026, 11, 29, 19, 30, tzinfo=UTC) and when.tzinfo is UTC


@pytest.mark.parametrize("text", ["", "yesterday", "2026-13-01T00:00:00Z", "1700000000"])
def test_parse_iso_refuses_what_is_not_a_time(text: str) -> None:
    with pytest.raises(ValueError):
        parse_iso(text)


@given(ms=st.integers(min_value=0, max_value=int(230 * 365.25 * DAY_S * 1000)))
def test_epoch_round_trips_whole_milliseconds_exactly(ms: int) -> None:
    epoch = ms / 1000
    assert epoch_s(epoch_to_iso(epoch, "milliseconds")) == epoch
    assert epoch_s(epoch_to_iso(epoch, "stored")) == epoch


def test_epoch_examples() -> None:
    assert epoch_to_iso(0.0) == "1970-01-01T00:00:00Z"
    assert epoch_s("1970-01-01T01:00:00+01:00") == 0.0
    assert epoch_s("1970-01-02T00:00:00Z") == DAY_S
    assert epoch_to_iso(HOUR_S + 0.25, "milliseconds") == "1970-01-01T01:00:00.250Z"


def test_exact_constants() -> None:
    assert J_PER_KWH == 1000 * HOUR_S  # 1 kWh = 1,000 W for 3,600 s, no rounding
    assert DAY_S == 24 * HOUR_S
