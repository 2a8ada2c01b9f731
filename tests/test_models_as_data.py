"""Models as data: lm.to_dict / lm.to_json write the provider's JSON and lm.from_dict
reads it back into an equal model, for every model; misfits name the field path."""

from __future__ import annotations

import enum
import json
import types
import typing
from datetime import UTC, datetime
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import lyra_mavera as lm
from lyra_mavera._fields import REST, WHOLE
from lyra_mavera.cli._output import to_data
from tests.conftest import sample

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)
datetimes = st.datetimes(timezones=st.just(UTC))
#: Models whose every instance is data (OAuth tokens and requests carry secrets and have
#: their own to_dict; Page is generic plumbing).
NOT_DATA = {"AuthorizationRequest", "OAuthToken", "Page"}
MODELS = [
    getattr(module, name)
    for module in (lm.lyra, lm.mavera)
    for name in module.__all__
    if name not in NOT_DATA
    and isinstance(getattr(module, name), type)
    and attrs.has(getattr(module, name))
]


def values(tp: Any) -> st.SearchStrategy[Any]:
    """Any value of the annotated type ``tp`` a model may hold."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    simple: dict[Any, st.SearchStrategy[Any]] = {
        str: st.text(max_size=10),
        int: st.integers(),
        float: st.floats(allow_nan=False),
        bool: st.booleans(),
        datetime: datetimes,
        Any: json_values,
        type(None): st.none(),
    }
    if tp in simple:
        return simple[tp]
    if tp is lm.mavera.UnknownStatus:  # a NewType of str: statuses no member names
        known = {status.value for status in lm.mavera.MeetingStatus}
        return st.text(max_size=10).filter(lambda text: text not in known)
    if origin in (typing.Union, types.UnionType):
        return st.one_of(*(values(a) for a in args))
    if origin is tuple:
        return st.lists(values(args[0]), max_size=3).map(tuple)
    if origin is dict:
        return st.dictionaries(st.text(max_size=6), json_values, max_size=3)
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return st.sampled_from(tp)
    if attrs.has(tp):
        return models(tp)
    raise AssertionError(f"no strategy for {tp!r}")


def _analyses() -> st.SearchStrategy[lm.mavera.Analysis]:
    # Analysis keeps the whole body it was read from: build it the way the SDK does.
    fields = {
        "id": st.text(max_size=6),
        "status": st.text(max_size=6),
        "version": st.integers(),
        "summary": json_values,
        "created_at": datetimes.map(lambda d: d.isoformat()),
    }
    body = st.dictionaries(st.text(max_size=6), json_values, max_size=3).flatmap(
        lambda extra: st.fixed_dictionaries({}, optional=fields).map(lambda f: {**extra, **f})
    )
    return body.map(lambda data: lm.from_dict(lm.mavera.Analysis, data))


def models(cls: type[Any]) -> st.SearchStrategy[Any]:
    """Any instance of the model ``cls``, built from its fields' types."""
    if any(f.metadata.get(WHOLE) for f in attrs.fields(cls)):
        assert cls is lm.mavera.Analysis
        return _analyses()
    hints = typing.get_type_hints(cls)
    named = {f.name for f in attrs.fields(cls)}
    kwargs = {}
    for field in attrs.fields(cls):
        if field.metadata.get(REST):
            # Keys the model names are read into their fields, never into the rest.
            keys = st.text(max_size=6).filter(lambda k: k not in named)
            kwargs[field.name] = st.dictionaries(keys, json_values, max_size=3)
        else:
            kwargs[field.name] = values(hints[field.name])
    return st.builds(cls, **kwargs)


def test_every_model_is_covered() -> None:
    """The round trip below runs over every data model the providers export."""
    names = {m.__module__.split(".")[1] + "." + m.__name__ for m in MODELS}
    assert {"lyra.Identity", "lyra.Meeting", "mavera.Meeting", "mavera.Usage"} <= names
    assert len(MODELS) >= 20


@pytest.mark.parametrize("cls", MODELS, ids=[f"{m.__module__}.{m.__name__}" for m in MODELS])
@settings(max_examples=40)
@given(data=st.data())
def test_round_trip(cls: type[Any], data: st.DataObject) -> None:
    """from_dict(cls, to_dict(m)) == m, and the same through to_json and json.loads."""
    model = data.draw(models(cls))
    assert lm.from_dict(cls, lm.to_dict(model)) == model
    assert lm.from_dict(cls, json.loads(lm.to_json(model))) == model


def test_data_is_the_providers_json() -> None:
    """to_dict writes the provider's names and shapes: what from_dict of an answer reads."""
    identity = lm.lyra.Identity(True, "user_1", "org_1")
    assert lm.to_dict(identity) == {"valid": True, "userId": "user_1", "orgId": "org_1"}
    analysis = lm.from_dict(lm.mavera.Analysis, sample("mavera_analysis.json"))
    assert lm.to_dict(analysis) == sample("mavera_analysis.json")
    created = lm.from_dict(lm.mavera.Meeting, sample("mavera_meeting_created.json"))
    data = lm.to_dict(created)
    assert data["status"] == "pending" and type(data["status"]) is str
    assert data["created_at"] == "2026-11-07T05:31:56.000Z"
    assert data["meeting_url"] == {
        "meeting_id": "123456789",
        "platform": "zoom",
        "meeting_password": None,
    }


def test_datetimes_keep_their_microseconds() -> None:
    """Milliseconds as the APIs write them; finer instants are kept exactly."""
    word = lm.mavera.AnalysisInfo(created_at=datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=UTC))
    assert lm.to_dict(word)["created_at"] == "2026-01-02T03:04:05.123456Z"
    assert lm.to_json(word).startswith('{"id":null,')
    assert "\n" in lm.to_json(word, indent=2)


def test_from_dict_names_the_field_path() -> None:
    """Data that does not fit is a ValidationError naming the first path; `path` lists all."""
    bad = {"id": "m1", "status": "done", "title": 7, "tasks": [{"due_date": "soon"}]}
    with pytest.raises(lm.ValidationError) as info:
        lm.from_dict(lm.mavera.Meeting, bad)
    err = info.value
    assert err.param == "$.title"
    assert "expected a string, got integer" in str(err) and "Meeting" in str(err)
    assert err.path == (
        "$.title: expected a string, got integer",
        "$.tasks[0].due_date: not an ISO 8601 date-time: 'soon'",
    )
    with pytest.raises(lm.ValidationError, match=r"^\$\.id: required field missing"):
        lm.from_dict(lm.mavera.Meeting, {"status": "done"})
    with pytest.raises(lm.ValidationError, match=r"^\$: expected an object, got array"):
        lm.from_dict(lm.lyra.Identity, [1])


def test_from_dict_is_as_tolerant_as_responses() -> None:
    """Unknown keys are ignored and unknown statuses kept as strings."""
    meeting = lm.from_dict(lm.mavera.Meeting, {"id": "m", "status": "teleporting", "v2": 1})
    assert meeting.status == "teleporting"


def test_only_models_are_data() -> None:
    """Anything but an SDK model is a TypeError, not a silent dict."""
    with pytest.raises(TypeError, match="SDK model"):
        lm.to_dict({"id": "m"})
    with pytest.raises(TypeError, match="SDK model"):
        lm.from_dict(dict, {"id": "m"})


def test_responses_name_paths_the_same_way() -> None:
    """A response that does not fit names its fields as `$.path: reason` too."""
    from lyra_mavera._convert import structure

    with pytest.raises(lm.ResponseValidationError) as info:
        structure({"id": "m", "status": 5}, lm.mavera.Meeting, provider="mavera")
    assert info.value.path == ("$.status: expected a string, got integer",)


def test_cli_prints_the_same_data() -> None:
    """The command line's JSON is lm.to_dict's, model for model."""
    meeting = lm.from_dict(lm.mavera.Meeting, sample("mavera_meeting_done.json"))
    assert to_data(meeting) == lm.to_dict(meeting)
    assert to_data([meeting]) == [lm.to_dict(meeting)]
