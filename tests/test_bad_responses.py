"""Bad responses never crash the caller with a bare KeyError, TypeError or JSONDecodeError.

Documented tolerance: unknown fields are ignored, unknown enum values are kept as raw
strings, a JSON body with a wrong Content-Type is still read, and integral floats are
accepted for integers. Everything else that does not fit is a ResponseValidationError
naming the field path, or an APIStatusError for non-2xx answers.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from aioresponses import aioresponses
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lyra_mavera as lm
from lyra_mavera._convert import structure
from tests.conftest import MAVERA, MAVERA_KEY, sample

URL = f"{MAVERA}/meetings/m1"
GOOD = {"id": "m1", "object": "meeting", "status": "in_call_recording"}

# (name, body bytes, content type, expected: "ok" or an error class, field path fragment)
CASES: list[tuple[str, bytes, str, Any, str | None]] = [
    (
        "truncated JSON",
        json.dumps(GOOD).encode()[:-5],
        "application/json",
        lm.ResponseValidationError,
        None,
    ),
    ("list for object", b"[1, 2]", "application/json", lm.ResponseValidationError, None),
    ("string for object", b'"m1"', "application/json", lm.ResponseValidationError, None),
    ("number for object", b"42", "application/json", lm.ResponseValidationError, None),
    (
        "string for number",
        json.dumps({**GOOD, "participant_count": "3"}).encode(),
        "application/json",
        lm.ResponseValidationError,
        "$.participant_count",
    ),
    (
        "number for string",
        json.dumps({**GOOD, "title": 7}).encode(),
        "application/json",
        lm.ResponseValidationError,
        "$.title",
    ),
    (
        "object for list",
        json.dumps({**GOOD, "participants": {"a": 1}}).encode(),
        "application/json",
        lm.ResponseValidationError,
        "$.participants",
    ),
    (
        "bool for int",
        json.dumps({**GOOD, "task_count": True}).encode(),
        "application/json",
        lm.ResponseValidationError,
        "$.task_count",
    ),
    (
        "missing id",
        json.dumps({"status": "done"}).encode(),
        "application/json",
        lm.ResponseValidationError,
        "$.id",
    ),
    (
        "missing status",
        json.dumps({"id": "m1"}).encode(),
        "application/json",
        lm.ResponseValidationError,
        "$.status",
    ),
    (
        "null id",
        json.dumps({**GOOD, "id": None}).encode(),
        "application/json",
        lm.ResponseValidationError,
        "$.id",
    ),
    (
        "null status",
        json.dumps({**GOOD, "status": None}).encode(),
        "application/json",
        lm.ResponseValidationError,
        "$.status",
    ),
    (
        "bad date",
        json.dumps({**GOOD, "created_at": "last tuesday"}).encode(),
        "application/json",
        lm.ResponseValidationError,
        "$.created_at",
    ),
    (
        "nested misfit",
        json.dumps({**GOOD, "tasks": [{"due_date": 5}]}).encode(),
        "application/json",
        lm.ResponseValidationError,
        "$.tasks[0].due_date",
    ),
    (
        "invalid UTF-8",
        b'{"id": "m\xff\xfe1", "status": "done"}',
        "application/json",
        lm.ResponseValidationError,
        None,
    ),
    ("empty body", b"", "application/json", lm.ResponseValidationError, None),
    (
        "HTML page",
        b"<html><body>Login</body></html>",
        "text/html",
        lm.ResponseValidationError,
        None,
    ),
    (
        "unknown status",
        json.dumps({**GOOD, "status": "teleporting"}).encode(),
        "application/json",
        "ok",
        None,
    ),
    (
        "unknown fields",
        json.dumps({**GOOD, "bot_avatar": {"x": 1}, "v2": True}).encode(),
        "application/json",
        "ok",
        None,
    ),
    ("wrong content type", json.dumps(GOOD).encode(), "text/plain", "ok", None),
    (
        "integral float for int",
        json.dumps({**GOOD, "participant_count": 3.0}).encode(),
        "application/json",
        "ok",
        None,
    ),
    (
        "10 MB title",
        json.dumps({**GOOD, "title": "x" * 10_000_000}).encode(),
        "application/json",
        "ok",
        None,
    ),
]


@pytest.mark.parametrize(
    ("name", "body", "content_type", "expected", "path"), CASES, ids=[c[0] for c in CASES]
)
async def test_bad_success_bodies(
    name: str, body: bytes, content_type: str, expected: Any, path: str | None
) -> None:
    """Each bad 200 body parses tolerantly or raises ResponseValidationError with its path."""
    with aioresponses() as mock:
        mock.get(URL, body=body, content_type=content_type)
        async with lm.AsyncSession(mavera_api_key=MAVERA_KEY) as s:
            if expected == "ok":
                meeting = await s.mavera.meetings.get("m1")
                assert meeting.id == "m1"
                return
            with pytest.raises(expected) as info:
                await s.mavera.meetings.get("m1")
    if path is not None:
        assert any(path in line for line in info.value.path), info.value.path


async def test_oversized_body_is_refused() -> None:
    """Above max_response_bytes a body is refused, not read into memory."""
    with aioresponses() as mock:
        mock.get(URL, body=json.dumps({**GOOD, "title": "x" * 10_000_000}).encode())
        async with lm.AsyncSession(mavera_api_key=MAVERA_KEY, max_response_bytes=1_000_000) as s:
            with pytest.raises(lm.ResponseValidationError, match="max_response_bytes"):
                await s.mavera.meetings.get("m1")


ERROR_CASES = [
    (500, b"<html>Internal Server Error</html>", "text/html"),
    (404, b"{not json", "application/json"),
    (429, b"", "application/json"),
    (502, b"\xff\xfe", "application/octet-stream"),
    (400, b'{"error": ["a", "list"]}', "application/json"),
    (401, b'{"message": "nope"}', "application/json"),
]


@pytest.mark.parametrize(("status", "body", "content_type"), ERROR_CASES)
async def test_bad_error_bodies(status: int, body: bytes, content_type: str) -> None:
    """Non-2xx answers with odd bodies are still the right APIStatusError with a message."""
    with aioresponses() as mock:
        mock.get(URL, status=status, body=body, content_type=content_type, repeat=True)
        async with lm.AsyncSession(
            mavera_api_key=MAVERA_KEY, retry=lm.RetryPolicy(attempts=1)
        ) as s:
            with pytest.raises(lm.APIStatusError) as info:
                await s.mavera.meetings.get("m1")
    assert info.value.status == status and info.value.message


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=20,
)
MODELS = [
    lm.mavera.Meeting,
    lm.mavera.Cancellation,
    lm.mavera.Transcript,
    lm.mavera.Analysis,
    lm.mavera.SchemaResult,
    lm.mavera.Workspace,
    lm.mavera.Usage,
    lm.lyra.Meeting,
    lm.lyra.Identity,
]


def _keys_of(model: type[Any]) -> list[str]:
    import attrs

    names = [a.name for a in attrs.fields(model)]
    return [{"user_id": "userId", "org_id": "orgId"}.get(n, n) for n in names]


@pytest.mark.parametrize("model", MODELS, ids=[m.__qualname__ for m in MODELS])
@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_fuzzed_bodies_parse_or_fail_cleanly(model: type[Any], data: st.DataObject) -> None:
    """Arbitrary JSON, shaped like the model or not, yields the model or a
    ResponseValidationError -- never any other exception."""
    keys = _keys_of(model)
    shaped = st.fixed_dictionaries({}, optional={k: json_values for k in keys})
    body = data.draw(st.one_of(json_values, shaped))
    try:
        result = structure(body, model, provider="mavera")
    except lm.ResponseValidationError as exc:
        assert exc.provider == "mavera"  # noqa: PT017 -- either outcome is fine; no other
    else:
        assert isinstance(result, model)


@given(st.binary(max_size=200))
def test_fuzzed_error_bodies_map_cleanly(body: bytes) -> None:
    """Any bytes as an error body map to an APIStatusError with a message."""
    from multidict import CIMultiDict

    from lyra_mavera._http import error_from_response

    err = error_from_response("mavera", 503, CIMultiDict(), body)
    assert isinstance(err, lm.ServerError) and err.message


def test_samples_still_parse() -> None:
    """The recorded samples parse (a sanity anchor for the fuzzing above)."""
    assert (
        structure(sample("mavera_meeting_done.json"), lm.mavera.Meeting, provider="mavera").status
        == "done"
    )
