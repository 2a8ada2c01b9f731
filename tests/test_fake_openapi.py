"""FakeServer's documented responses validate against the providers' OpenAPI files."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import jsonschema
import pytest
import yaml

from lyra_mavera._convert import parse_datetime
from lyra_mavera.testing import FakeServer

SPECS = Path(__file__).parent / "openapi"


def _to_json_schema(node: Any, components: dict[str, Any]) -> Any:
    """OpenAPI 3.0 schema -> JSON Schema: inline $refs, turn `nullable` into a null type."""
    if isinstance(node, list):
        return [_to_json_schema(item, components) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        return _to_json_schema(components[name], components)
    out = {
        k: _to_json_schema(v, components)
        for k, v in node.items()
        if k not in ("nullable", "example")
    }
    if node.get("nullable"):
        if "type" in out:
            out["type"] = [out["type"], "null"]
        if "enum" in out:
            out["enum"] = [*out["enum"], None]
        if "oneOf" in out:
            out["oneOf"] = [*out["oneOf"], {"type": "null"}]
    return out


class Spec:
    def __init__(self, name: str) -> None:
        self.doc = yaml.safe_load((SPECS / name).read_text())
        self.components = self.doc.get("components", {}).get("schemas", {})
        self.responses = self.doc.get("components", {}).get("responses", {})
        checker = jsonschema.FormatChecker()

        @checker.checks("date-time", raises=(TypeError, ValueError))
        def _date_time(value: object) -> bool:
            if not isinstance(value, str):
                return True  # formats only constrain strings
            if "T" not in value:
                return False
            parse_datetime(value)
            return True

        self.checker = checker

    def check(self, path: str, method: str, status: int, body: Any, headers: Any = None) -> None:
        operation = self.doc["paths"][path][method.lower()]
        response = operation["responses"][str(status)]
        if "$ref" in response:
            response = self.responses[response["$ref"].rsplit("/", 1)[-1]]
        schema = _to_json_schema(response["content"]["application/json"]["schema"], self.components)
        jsonschema.validate(body, schema, format_checker=self.checker)
        for name, header in (response.get("headers") or {}).items():
            assert headers is not None and name in headers
            if header["schema"].get("type") == "integer":
                int(headers[name])


MAVERA = Spec("mavera.openapi.yaml")
LYRA = Spec("lyra.openapi.yaml")


@pytest.fixture
async def raw(fake: FakeServer) -> AsyncIterator[aiohttp.ClientSession]:
    headers = {"Authorization": f"Bearer {fake.mavera_api_key}"}
    async with aiohttp.ClientSession(fake.base_url, headers=headers) as session:
        yield session


async def _call(
    raw: aiohttp.ClientSession, method: str, path: str, **kwargs: Any
) -> tuple[int, Any, Any]:
    async with raw.request(method, "/mavera/api/v1" + path, **kwargs) as resp:
        return resp.status, await resp.json(), resp.headers


async def test_mavera_meeting_lifecycle_matches_spec(
    fake: FakeServer, raw: aiohttp.ClientSession
) -> None:
    """Create, get at every status, list, cancel and transcripts all fit the schema."""
    status, created, _ = await _call(
        raw, "POST", "/meetings", json={"meeting_url": "https://zoom.us/j/85000001", "title": "T"}
    )
    assert status == 201
    MAVERA.check("/meetings", "post", 201, created)
    seen = set()
    for _ in range(12):
        status, got, _ = await _call(raw, "GET", f"/meetings/{created['id']}")
        MAVERA.check("/meetings/{id}", "get", 200, got)
        seen.add(got["status"])
        fake.clock.advance(15)
    assert "done" in seen and "in_call_recording" in seen
    status, listing, _ = await _call(raw, "GET", "/meetings", params={"limit": "10"})
    MAVERA.check("/meetings", "get", 200, listing)
    for fmt in ("segments", "text", "srt"):
        status, transcript, _ = await _call(
            raw, "GET", f"/meetings/{created['id']}/transcript", params={"format": fmt}
        )
        assert status == 200
        MAVERA.check("/meetings/{id}/transcript", "get", 200, transcript)
    _, live, _ = await _call(
        raw, "POST", "/meetings", json={"meeting_url": "https://zoom.us/j/85000002"}
    )
    status, cancelled, _ = await _call(
        raw, "POST", f"/meetings/{live['id']}/cancel", json={"reason": "moved"}
    )
    MAVERA.check("/meetings/{id}/cancel", "post", 200, cancelled)
    _, after, _ = await _call(raw, "GET", f"/meetings/{live['id']}")
    MAVERA.check("/meetings/{id}", "get", 200, after)


async def test_mavera_errors_match_spec(fake: FakeServer, raw: aiohttp.ClientSession) -> None:
    """400, 401, 404 and 429 answers use the documented error envelope and headers."""
    status, body, _ = await _call(raw, "POST", "/meetings", json={})
    MAVERA.check("/meetings", "post", status, body)
    status, body, _ = await _call(raw, "GET", "/meetings/nope")
    MAVERA.check("/meetings/{id}", "get", status, body)
    status, body, _ = await _call(
        raw,
        "POST",
        "/meetings",
        json={"meeting_url": "x"},
        headers={"Authorization": "Bearer nope"},
    )
    assert status == 401
    MAVERA.check("/meetings", "post", status, body)
    key = fake.add_key("mavera", rpm=1)
    auth = {"Authorization": f"Bearer {key}"}
    await _call(
        raw, "POST", "/meetings", json={"meeting_url": "https://zoom.us/j/85000003"}, headers=auth
    )
    status, body, headers = await _call(
        raw, "POST", "/meetings", json={"meeting_url": "https://zoom.us/j/85000003"}, headers=auth
    )
    assert status == 429
    MAVERA.check("/meetings", "post", 429, body, headers)


async def test_lyra_meeting_matches_spec(fake: FakeServer) -> None:
    """Lyra's created meeting fits its schema."""
    async with (
        aiohttp.ClientSession(
            fake.base_url, headers={"Authorization": f"Bearer {fake.lyra_api_key}"}
        ) as raw,
        raw.post("/lyra/api/v1/meeting", json={"title": "T", "attendees": "a@b.co"}) as resp,
    ):
        LYRA.check("/meeting", "post", resp.status, await resp.json())


def test_the_checker_catches_misfits() -> None:
    """The schema check itself rejects a wrong body (so the tests above can fail)."""
    with pytest.raises(jsonschema.ValidationError):
        MAVERA.check(
            "/meetings/{id}", "get", 200, {"id": "m", "object": "meeting", "status": "sleeping"}
        )
    with pytest.raises(jsonschema.ValidationError):
        MAVERA.check(
            "/meetings",
            "post",
            201,
            {"id": "m", "object": "meeting", "status": "pending", "join_at": "noon"},
        )
