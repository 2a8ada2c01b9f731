"""The public surface is exported on purpose and completely."""

from __future__ import annotations

import importlib
import inspect

import pytest

import lyra_mavera as lm


@pytest.mark.parametrize(
    "name", ["lyra_mavera", "lyra_mavera.lyra", "lyra_mavera.mavera", "lyra_mavera.testing"]
)
def test_all_is_complete(name: str) -> None:
    """Every public name a module defines is in its __all__, and every entry exists."""
    module = importlib.import_module(name)
    exported = set(module.__all__)
    for entry in exported:
        assert hasattr(module, entry), entry
    public = {
        n
        for n, obj in vars(module).items()
        if not n.startswith("_")
        and (inspect.isclass(obj) or inspect.isfunction(obj))
        and getattr(obj, "__module__", "").startswith("lyra_mavera")
    }
    assert public <= exported, public - exported


def test_contract_names() -> None:
    """The names API.md promises exist."""
    for name in [
        "AsyncSession",
        "RetryPolicy",
        "BulkResult",
        "LyraMaveraError",
        "ConfigurationError",
        "ValidationError",
        "APIConnectionError",
        "APITimeoutError",
        "APIStatusError",
        "BadRequestError",
        "AuthenticationError",
        "PaymentRequiredError",
        "PermissionDeniedError",
        "NotFoundError",
        "ConflictError",
        "RateLimitError",
        "ServerError",
        "ResponseValidationError",
        "BotFailedError",
        "WaitTimeoutError",
    ]:
        assert hasattr(lm, name), name
    for name in ["Identity", "Meeting", "MeetingRequest"]:
        assert hasattr(lm.lyra, name)
    for name in [
        "Meeting",
        "MeetingStatus",
        "BotRequest",
        "Cancellation",
        "Transcript",
        "Analysis",
        "SchemaResult",
        "Usage",
    ]:
        assert hasattr(lm.mavera, name)


def test_signatures_match_contract() -> None:
    """Key signatures keep the parameter names API.md fixes."""
    params = inspect.signature(lm.AsyncSession).parameters
    for name in [
        "lyra_api_key",
        "mavera_api_key",
        "lyra_base_url",
        "mavera_base_url",
        "retry",
        "timeout",
        "max_connections",
        "client_session",
    ]:
        assert params[name].kind is inspect.Parameter.KEYWORD_ONLY
    assert params["timeout"].default == 30.0 and params["max_connections"].default == 100
    policy = lm.RetryPolicy()
    assert (
        policy.attempts,
        policy.wait_initial,
        policy.wait_max,
        policy.max_retry_after,
        policy.retry_unsafe,
    ) == (3, 0.5, 8.0, 60.0, False)
    r: lm.BulkResult[int] = lm.BulkOk(index=0, request=None, value=1)
    assert r.ok and r.error is None and isinstance(r, lm.BulkResult)


def test_positional_order_of_contract_models() -> None:
    """Models whose fields API.md lists take them positionally in that order."""
    meeting = lm.lyra.Meeting("lyra_video", "m1", "", "https://app.lyra.so/meeting/a")
    assert (meeting.type, meeting.id, meeting.password, meeting.url) == (
        "lyra_video",
        "m1",
        "",
        "https://app.lyra.so/meeting/a",
    )
    identity = lm.lyra.Identity(True, "user_1", "org_1")
    assert (identity.valid, identity.user_id, identity.org_id) == (True, "user_1", "org_1")
    request = lm.lyra.MeetingRequest("T")
    assert (request.start, request.attendees) == (None, ())
    bot = lm.mavera.BotRequest("https://zoom.us/j/85000001", "t", "b", None, "ws")
    assert (bot.title, bot.bot_name, bot.join_at, bot.workspace_id) == ("t", "b", None, "ws")
    result = lm.BulkFailed(3, "req", lm.ValidationError("x", "bad"))
    assert (result.index, result.request, result.ok, result.value) == (3, "req", False, None)
