"""What the fake's Mavera account routes answer: workspaces and usage."""

from __future__ import annotations

from typing import Any

from ._current import Fake

__all__ = ["usage_json", "workspace_json"]


def workspace_json(fake: Fake, ws_id: str, *, members: bool) -> dict[str, Any]:
    """The body the fake answers for workspace ``ws_id`` (with its members or not)."""
    ws = fake.workspaces[ws_id]
    data: dict[str, Any] = {
        "id": ws_id,
        "object": "workspace",
        "name": ws["name"],
        "image": None,
        "type": ws["type"],
        "role": "owner",
        "is_owner": True,
        "member_count": 1,
        "project_count": 0,
        "thread_count": 0,
        "budget_alert": None,
        "usage_limit": None,
        "billing_email": "billing@acme.example",
        "created_at": "2026-01-01T00:00:00Z",
        "updated_at": "2026-01-01T00:00:00Z",
    }
    if members:
        data["members"] = [
            {
                "object": "workspace.member",
                "user_id": "user_001",
                "email": "owner@acme.example",
                "role": "owner",
                "status": "active",
                "joined_at": "2026-01-01T00:00:00Z",
            }
        ]
    return data


def usage_json(fake: Fake, key: str) -> dict[str, Any]:
    """The body the fake answers to ``GET /usage`` for ``key``."""
    info = fake.key_info(key)
    bots = sum(1 for b in fake.bots if b.key == key)
    rpm = info.limiter.rpm if info.limiter else None
    requests = sum(1 for r in fake.requests if r.key == key)
    return {
        "object": "usage",
        "billing_period": {"start": "2026-11-01T00:00:00Z", "end": "2026-12-01T00:00:00Z"},
        "credits": {"used": 0, "included": 500, "remaining": 500, "percentage_used": 0.0},
        "transcription": {
            "minutes_used": bots,
            "minutes_included": 1000,
            "minutes_remaining": max(1000 - bots, 0),
            "percentage_used": round(bots / 10, 2),
        },
        "storage": {
            "gb_used": 0.0,
            "gb_included": 10,
            "gb_remaining": 10.0,
            "percentage_used": 0.0,
        },
        "api_requests": {
            "total_requests": requests,
            "total_tokens": 0,
            "prompt_tokens": 0,
            "completion_tokens": 0,
            "credits_used": 0,
            "error_count": 0,
            "avg_latency_ms": 1.0,
        },
        "rate_limit": {"requests_per_minute": rpm},
        "auto_recharge": {"enabled": False, "threshold": 50, "credits_to_add": 500},
        "limits": {"budget_alert": 400, "usage_limit": None},
    }
