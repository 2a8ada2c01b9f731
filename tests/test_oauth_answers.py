"""Lyra OAuth token answers: anything that is not a token is a ResponseValidationError
naming the field, an OAuth error member an OAuthError; stored data a ValidationError."""

from __future__ import annotations

import json
from typing import Any

import pytest

import lyra_mavera as lm
from lyra_mavera.lyra import OAuthToken
from lyra_mavera.testing import FakeServer
from tests.test_oauth import sign_in


def script(fake: FakeServer, body: Any = None, **options: Any) -> None:
    """Script the next answer of the fake token endpoint for fake.oauth_client()."""
    app = fake.oauth_apps[fake.oauth_client_id]
    if body is None:
        app.answer_next(**options)
    else:
        app.answer_next(body, **options)


VALID: dict[str, Any] = {
    "access_token": "lyra_oauth_fresh",
    "refresh_token": "lyra_refresh_fresh",
    "token_type": "Bearer",
    "expires_in": 3600,
    "scope": "meeting.create",
}
NOT_A_STRING = [5, 1.5, True, None, [], {}, ["x"]]
NOT_SECONDS = ["3600", True, False, -1, -0.5, float("nan"), float("inf"), 10**400, [], {}]


def _bad_fields() -> list[Any]:
    cases: list[Any] = []
    for value in [*NOT_A_STRING, "", " ", "tok en", "tok\nen", "t\u00f6ken"]:
        cases.append(pytest.param({**VALID, "access_token": value}, "$.access_token"))
    missing = {k: v for k, v in VALID.items() if k != "access_token"}
    cases.append(pytest.param(missing, "$.access_token"))
    for field in ("refresh_token", "token_type"):
        for value in NOT_A_STRING:
            if value is not None:
                cases.append(pytest.param({**VALID, field: value}, f"$.{field}"))
    for value in [5, 1.5, True, {}, [5], [""], ["a b"]]:
        cases.append(pytest.param({**VALID, "scope": value}, "$.scope"))
    for value in NOT_SECONDS:
        cases.append(pytest.param({**VALID, "expires_in": value}, "$.expires_in"))
    return cases


@pytest.mark.parametrize(("body", "field"), _bad_fields())
async def test_a_token_answer_field_of_the_wrong_type_is_a_response_error_naming_it(
    fake: FakeServer, body: dict[str, Any], field: str
) -> None:
    """Every field of the wrong JSON type is a ResponseValidationError whose path names it."""
    client = fake.oauth_client()
    token = await sign_in(fake, client)
    script(fake, body)
    with pytest.raises(lm.ResponseValidationError) as info:
        await client.refresh(token)
    error = info.value
    assert error.provider == "lyra" and error.status == 200
    assert any(line.startswith(field) for line in error.path), error.path
    assert field in str(error)
    assert not isinstance(error, lm.ValidationError)


@pytest.mark.parametrize(
    ("raw", "content_type"),
    [
        ("[]", "application/json"),
        ('["access_token"]', "application/json"),
        ('"lyra_oauth_x"', "application/json"),
        ("null", "application/json"),
        ("5", "application/json"),
        ("true", "application/json"),
        ("<html><body>Sign in</body></html>", "text/html"),
        ("", "application/json"),
        ('{"access_token": ', "application/json"),
        (b"\xff\xfe{}", "application/json"),
        ("[" * 100_000 + "]" * 100_000, "application/json"),
    ],
    ids=["array", "array_of_str", "string", "null", "number", "bool", "html", "empty",
         "broken", "not_utf8", "deep"],
)  # fmt: skip
async def test_a_token_answer_that_is_not_a_json_object_is_a_response_error(
    fake: FakeServer, raw: str | bytes, content_type: str
) -> None:
    """A 200 whose body is not a JSON object is a ResponseValidationError at "$"."""
    client = fake.oauth_client()
    token = await sign_in(fake, client)
    script(fake, raw=raw, content_type=content_type)
    with pytest.raises(lm.ResponseValidationError) as info:
        await client.refresh(token)
    assert info.value.path and info.value.path[0].startswith("$:"), info.value.path
    assert info.value.status == 200 and "$:" in str(info.value)


@pytest.mark.parametrize(
    "changes",
    [
        {"refresh_token": None},
        {"token_type": None},
        {"scope": None},
        {"scope": ""},
        {"scope": ["meeting.create", "webhook.read"]},
        {"expires_in": None},
        {"expires_in": 0},
        {"expires_in": 1e12},
        {"token_type": "bearer"},
        {"unknown": {"nested": [1]}},
        {"error": None},
    ],
    ids=lambda c: json.dumps(c),
)
async def test_a_token_answer_with_optional_fields_null_or_absent_is_accepted(
    fake: FakeServer, changes: dict[str, Any]
) -> None:
    """Null or absent optional fields, a scope list and unknown members are fine."""
    client = fake.oauth_client()
    token = await sign_in(fake, client)
    script(fake, {**VALID, **changes})
    fresh = await client.refresh(token)
    assert fresh.access_token == VALID["access_token"]
    assert fresh.refresh_token in (VALID["refresh_token"], token.refresh_token)


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (200, {"error": "invalid_grant"}, lm.ReauthorizationRequired),
        (200, {**VALID, "error": "invalid_grant"}, lm.ReauthorizationRequired),
        (200, {"error": "temporarily_unavailable"}, lm.OAuthError),
        (400, {"error": "invalid_client"}, lm.OAuthError),
        (400, {"error": 5}, lm.OAuthError),
        (500, [], lm.OAuthError),
        (201, VALID, lm.OAuthError),
    ],
)
async def test_a_token_endpoint_error_member_is_an_oauth_error(
    fake: FakeServer, status: int, body: Any, error: type[lm.OAuthError]
) -> None:
    """An "error" member (even with a 200) or a non-200 status is an OAuthError carrying
    the OAuth code; only invalid_grant is ReauthorizationRequired."""
    client = fake.oauth_client()
    token = await sign_in(fake, client)
    script(fake, body, status=status)
    with pytest.raises(lm.OAuthError) as info:
        await client.refresh(token)
    assert type(info.value) is error and info.value.status == status


def test_stored_token_data_of_the_wrong_type_is_a_validation_error() -> None:
    """from_dict (the caller's own stored data) raises ValidationError, never TypeError."""
    good = OAuthToken("lyra_oauth_x", "r", scope=("meeting.create",), expires_at=1.0).to_dict()
    assert OAuthToken.from_dict(good).scope == ("meeting.create",)
    for field, value in [
        ("access_token", 5),
        ("access_token", ""),
        ("refresh_token", 5),
        ("token_type", 5),
        ("scope", 5),
        ("scope", [5]),
        ("expires_at", "soon"),
        ("expires_at", True),
        ("expires_at", float("nan")),
    ]:
        with pytest.raises(lm.ValidationError, match=field):
            OAuthToken.from_dict({**good, field: value})
    with pytest.raises(lm.ValidationError, match="token"):
        OAuthToken.from_dict([])  # type: ignore[arg-type]
