"""Models: tolerant reading, datetimes, and round-trips through the converter."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import lyra_mavera as lm
from lyra_mavera._convert import (
    STRUCTURE_ERRORS,
    converter,
    fast_structure,
    format_datetime,
    parse_datetime,
    problems,
    strict_converter,
    structure,
)
from lyra_mavera.mavera import Meeting, MeetingStatus
from tests.conftest import sample


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-07T05:31:56Z", datetime(2026, 11, 7, 5, 31, 56, tzinfo=UTC)),
        ("2026-11-07T05:31:56.1Z", datetime(2026, 11, 7, 5, 31, 56, 100000, tzinfo=UTC)),
        ("2026-11-07T05:31:56.123456789Z", datetime(2026, 11, 7, 5, 31, 56, 123456, tzinfo=UTC)),
        ("2026-11-07T07:31:56+02:00", datetime(2026, 11, 7, 5, 31, 56, tzinfo=UTC)),
        ("2026-11-07T05:31:56", datetime(2026, 11, 7, 5, 31, 56, tzinfo=UTC)),
        ("2026-11-07T11:01:56.5+0530", datetime(2026, 11, 7, 5, 31, 56, 500000, tzinfo=UTC)),
    ],
)
def test_datetimes_come_out_utc(text: str, expected: datetime) -> None:
    """Z, offsets and any fraction length parse to aware UTC datetimes."""
    parsed = parse_datetime(text)
    assert parsed == expected and parsed.tzinfo is UTC


@given(st.datetimes(timezones=st.just(UTC)))
def test_datetime_format_round_trip(value: datetime) -> None:
    """format then parse keeps the instant to the millisecond."""
    back = parse_datetime(format_datetime(value))
    assert abs(back - value) < timedelta(milliseconds=1)


def test_format_converts_to_utc() -> None:
    """Offsets are converted to UTC with milliseconds and a Z."""
    value = datetime(2026, 2, 3, 10, 0, tzinfo=timezone(timedelta(hours=-5)))
    assert format_datetime(value) == "2026-02-03T15:00:00.000Z"


@pytest.mark.parametrize(
    ("name", "cls"),
    [
        ("mavera_meeting_done.json", lm.mavera.Meeting),
        ("mavera_meeting_created.json", lm.mavera.Meeting),
        ("mavera_transcript.json", lm.mavera.Transcript),
        ("mavera_schema_result.json", lm.mavera.SchemaResult),
        ("mavera_workspace.json", lm.mavera.Workspace),
        ("mavera_usage.json", lm.mavera.Usage),
        ("mavera_analysis.json", lm.mavera.Analysis),
    ],
)
def test_samples_fit_strictly(name: str, cls: type[Any]) -> None:
    """Every documented field of each sample has a model field (no typo is ignored)."""
    structure(sample(name), cls, provider="mavera", conv=strict_converter)


def test_strict_converter_catches_typos() -> None:
    """The strict converter refuses a key the model does not know."""
    with pytest.raises(lm.ResponseValidationError, match="metting_url"):
        structure(
            {"id": "m", "status": "done", "metting_url": "x"},
            Meeting,
            provider="mavera",
            conv=strict_converter,
        )


statuses = st.one_of(st.sampled_from(list(MeetingStatus)), st.text(min_size=1, max_size=20))
aware = st.datetimes(
    min_value=datetime(1971, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)
).map(lambda d: d.replace(microsecond=d.microsecond // 1000 * 1000))
opt_text = st.none() | st.text(max_size=30)


@given(
    st.builds(
        Meeting,
        id=st.text(min_size=1, max_size=20),
        status=statuses,
        title=opt_text,
        meeting_url=st.none() | st.text(max_size=40),
        join_at=st.none() | aware,
        participants=st.lists(
            st.builds(lm.mavera.Participant, name=opt_text, email=opt_text, role=opt_text),
            max_size=3,
        ).map(tuple),
        participant_count=st.none() | st.integers(min_value=0, max_value=10_000),
        has_transcript=st.none() | st.booleans(),
        created_at=st.none() | aware,
    )
)
def test_meeting_round_trip(meeting: Meeting) -> None:
    """unstructure then structure gives back the same meeting, unknown statuses included."""
    data = converter.unstructure(meeting)
    back = structure(data, Meeting, provider="mavera")
    assert back == meeting


@given(
    st.builds(
        lm.lyra.Meeting,
        type=st.text(max_size=10),
        id=st.text(min_size=1, max_size=10),
        url=st.text(max_size=30),
        password=st.text(max_size=10),
    )
)
def test_lyra_meeting_round_trip(meeting: lm.lyra.Meeting) -> None:
    """Lyra meetings round-trip through the converter."""
    assert structure(converter.unstructure(meeting), lm.lyra.Meeting, provider="lyra") == meeting


def test_status_enum_is_str() -> None:
    """MeetingStatus compares and prints as its wire value."""
    assert MeetingStatus.DONE == "done" and str(MeetingStatus.FATAL) == "fatal"
    assert len(MeetingStatus) == 12


def test_models_are_frozen() -> None:
    """Models cannot be changed after creation."""
    m = Meeting(id="m", status=MeetingStatus.DONE)
    with pytest.raises(AttributeError):
        m.id = "other"  # type: ignore[misc]


_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=2) | st.dictionaries(st.text(max_size=5), inner, max_size=2)
    ),
    max_leaves=4,
)


def _paths(value: Any, here: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place inside a JSON document (dict keys and list indexes)."""
    out = [here]
    if isinstance(value, dict):
        for key, item in value.items():
            out += _paths(item, (*here, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            out += _paths(item, (*here, index))
    return out


def _replaced(doc: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    copy = dict(doc) if isinstance(doc, dict) else list(doc)
    copy[path[0]] = _replaced(doc[path[0]], path[1:], value)
    return copy


_SAMPLES = [
    ("mavera_meeting_done.json", Meeting),
    ("mavera_meeting_created.json", Meeting),
    ("mavera_analysis.json", lm.mavera.Analysis),
    ("mavera_usage.json", lm.mavera.Usage),
    ("mavera_workspace.json", lm.mavera.Workspace),
    ("mavera_transcript.json", lm.mavera.Transcript),
    ("mavera_schema_result.json", lm.mavera.SchemaResult),
]


@settings(max_examples=400)
@given(st.data())
def test_the_fast_path_accepts_and_refuses_exactly_what_the_detailed_one_does(
    data: st.DataObject,
) -> None:
    """The fast structuring path and the detailed converter agree on every document:
    a sample answer (every model with one) with any value anywhere replaced by
    arbitrary JSON, or removed, either gives equal models both ways or is refused both
    ways, and the refusal names the same fields."""
    name, model = data.draw(st.sampled_from(_SAMPLES))
    doc = sample(name)
    path = data.draw(st.sampled_from(_paths(doc)))
    if path and isinstance(path[-1], str) and data.draw(st.booleans()):
        parent = doc
        for step in path[:-1]:
            parent = parent[step]
        mutated = _replaced(doc, path[:-1], {k: v for k, v in parent.items() if k != path[-1]})
    else:
        mutated = _replaced(doc, path, data.draw(_JSON_VALUES))
    try:
        detailed: Any = converter.structure(mutated, model)
    except STRUCTURE_ERRORS as exc:
        detailed = problems(exc)
    try:
        fast: Any = fast_structure(mutated, model)
    except STRUCTURE_ERRORS as exc:
        fast = problems(exc)
    assert fast == detailed
