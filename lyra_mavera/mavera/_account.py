"""The account side of Mavera: workspaces and usage."""

from __future__ import annotations

from datetime import datetime

import attrs

__all__ = ["Usage", "Workspace", "WorkspaceMember"]


@attrs.frozen
class WorkspaceMember:
    """A member of a workspace (``GET /workspaces/{id}``)."""

    user_id: str | None = None
    email: str | None = None
    role: str | None = None
    status: str | None = None
    joined_at: datetime | None = None
    object: str = "workspace.member"


@attrs.frozen
class Workspace:
    """A Mavera workspace (``GET /workspaces[/{id}]``); bots are created in one."""

    id: str
    object: str = "workspace"
    name: str | None = None
    image: str | None = None
    type: str | None = None
    role: str | None = None
    is_owner: bool | None = None
    member_count: int | None = None
    project_count: int | None = None
    thread_count: int | None = None
    budget_alert: int | None = None
    usage_limit: int | None = None
    billing_email: str | None = None
    members: tuple[WorkspaceMember, ...] = ()
    created_at: datetime | None = None
    updated_at: datetime | None = None


@attrs.frozen
class BillingPeriod:
    start: datetime | None = None
    end: datetime | None = None


@attrs.frozen
class Credits:
    used: float | None = None
    included: float | None = None
    remaining: float | None = None
    percentage_used: float | None = None


@attrs.frozen
class Transcription:
    minutes_used: float | None = None
    minutes_included: float | None = None
    minutes_remaining: float | None = None
    percentage_used: float | None = None


@attrs.frozen
class Storage:
    gb_used: float | None = None
    gb_included: float | None = None
    gb_remaining: float | None = None
    percentage_used: float | None = None


@attrs.frozen
class ApiRequests:
    total_requests: int | None = None
    total_tokens: int | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    credits_used: float | None = None
    error_count: int | None = None
    avg_latency_ms: float | None = None


@attrs.frozen
class RateLimit:
    requests_per_minute: int | None = None


@attrs.frozen
class AutoRecharge:
    enabled: bool | None = None
    threshold: float | None = None
    credits_to_add: float | None = None


@attrs.frozen
class Limits:
    budget_alert: float | None = None
    usage_limit: float | None = None


@attrs.frozen
class Usage:
    """``GET /usage``: the billing period's consumption and the key's rate limit."""

    object: str = "usage"
    billing_period: BillingPeriod | None = None
    credits: Credits | None = None
    transcription: Transcription | None = None
    storage: Storage | None = None
    api_requests: ApiRequests | None = None
    rate_limit: RateLimit | None = None
    auto_recharge: AutoRecharge | None = None
    limits: Limits | None = None
