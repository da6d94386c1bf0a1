"""Durations: Go-style units plus days and weeks."""

import datetime as dt

import pytest

from aibridge.config.durations import format_duration, parse_duration
from aibridge.config.values import parse_size


@pytest.mark.parametrize(
    "text, expected",
    [
        ("90d", dt.timedelta(days=90)),
        ("2w", dt.timedelta(weeks=2)),
        ("720h", dt.timedelta(hours=720)),
        ("1h30m", dt.timedelta(hours=1, minutes=30)),
        ("1w2d3h4m5s", dt.timedelta(weeks=1, days=2, hours=3, minutes=4, seconds=5)),
        ("1.5h", dt.timedelta(minutes=90)),
        ("500ms", dt.timedelta(milliseconds=500)),
        ("10m", dt.timedelta(minutes=10)),
        ("45s", dt.timedelta(seconds=45)),
        ("0", dt.timedelta(0)),
        ("0s", dt.timedelta(0)),
        (0, dt.timedelta(0)),
        (" 30s ", dt.timedelta(seconds=30)),
    ],
)
def test_valid_durations(text, expected):
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "forever", "90", "90 d", "1h 30m", "-1h", "1y", "h", "1hh", "30s5", 90, None, True])
def test_garbage_is_a_clear_error(text):
    with pytest.raises(ValueError) as raised:
        parse_duration(text)
    message = str(raised.value)
    assert "90d" in message and "\n" not in message


@pytest.mark.parametrize("value", [dt.timedelta(days=90), dt.timedelta(hours=1, minutes=30), dt.timedelta(weeks=2, days=3)])
def test_format_round_trips(value):
    assert parse_duration(format_duration(value)) == value


def test_format_zero():
    assert format_duration(dt.timedelta(0)) == "0"


@pytest.mark.parametrize(
    "text, expected",
    [("32MiB", 32 * 1024 * 1024), ("10MB", 10_000_000), ("512kib", 512 * 1024), ("1048576", 1048576), (4096, 4096), ("1GiB", 1024**3)],
)
def test_sizes(text, expected):
    assert parse_size(text) == expected


@pytest.mark.parametrize("text", ["", "32 parsecs", "-1", "0", "MiB", "1.5MiB"])
def test_bad_sizes(text):
    with pytest.raises(ValueError):
        parse_size(text)
