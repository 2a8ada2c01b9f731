"""The fake Mavera API's results of a finished bot: transcript, analysis, schema runs.

Before the bot is ``done`` each answers 400 ``meeting_not_ready`` (Mavera documents only
that results exist once the status is ``done``; this is our choice of error).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ._bots import Bot
from ._current import bot_or_404, server_of
from ._wire import iso, json_response, mavera_error, read_json_object

__all__ = ["SCHEMAS", "analysis", "run_schema", "transcript"]


def _finished_bot(request: web.Request, what: str) -> Bot | web.Response:
    """The bot named by the path if it is done, else the error to answer with."""
    found = bot_or_404(request)
    if isinstance(found, web.Response):
        return found
    return _not_ready(found, server_of(request).clock.now(), what) or found


def _not_ready(bot: Bot, now: float, what: str) -> web.Response | None:
    status = bot.status(now)
    if status != "done":
        return mavera_error(
            400,
            "meeting_not_ready",
            f"The {what} is available once the meeting is done (status: {status})",
            param="id",
        )
    return None


_WORDS = [
    "Thanks",
    "everyone",
    "for",
    "joining",
    "let",
    "us",
    "review",
    "the",
    "plan",
    "and",
    "agree",
    "next",
    "steps",
]


async def transcript(request: web.Request) -> web.Response:
    found = _finished_bot(request, "transcript")
    if isinstance(found, web.Response):
        return found
    fmt = request.query.get("format", "segments")
    if fmt not in ("segments", "text", "srt"):
        return mavera_error(
            400, "invalid_field", "format must be segments, text or srt", param="format"
        )
    window = []
    for name in ("start_time", "end_time"):
        raw = request.query.get(name)
        try:
            window.append(float(raw) if raw is not None else None)
        except ValueError:
            return mavera_error(400, "invalid_field", f"{name} must be a number", param=name)
    chunks = [_WORDS[i : i + 4] for i in range(0, len(_WORDS), 4)]
    segments: list[dict[str, Any]] = [
        {
            "start": n * 5.0,
            "end": n * 5.0 + 4.5,
            "speaker": "Alex" if n % 2 == 0 else "Sam",
            "speaker_id": f"spk_{n % 2 + 1}",
            "text": " ".join(words),
            "word_timestamps": [
                {"word": w, "start": n * 5.0 + j, "end": n * 5.0 + j + 0.8}
                for j, w in enumerate(words)
            ],
        }
        for n, words in enumerate(chunks)
    ]
    start, end = window
    segments = [
        s
        for s in segments
        if (start is None or s["start"] >= start) and (end is None or s["end"] <= end)
    ]
    data: dict[str, Any] = {
        "object": "meeting.transcript",
        "meeting_id": found.id,
        "format": fmt,
        "duration_seconds": 60.0,
        "total_words": len(_WORDS),
        "participant_map": {"spk_1": "Alex", "spk_2": "Sam"},
        "created_at": iso(found.entered("done")),
    }
    if fmt == "segments":
        data["segments"] = segments
    elif fmt == "text":
        data["content"] = "\n".join(f"{s['speaker']}: {s['text']}" for s in segments)
    else:
        data["content"] = "\n\n".join(
            f"{n}\n{_srt(s['start'])} --> {_srt(s['end'])}\n{s['text']}"
            for n, s in enumerate(segments, 1)
        )
    return json_response(data)


def _srt(seconds: float) -> str:
    ms = round(seconds * 1000)
    return f"{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d},{ms % 1000:03d}"


async def analysis(request: web.Request) -> web.Response:
    found = _finished_bot(request, "analysis")
    if isinstance(found, web.Response):
        return found
    done_at = iso(found.entered("done"))
    return json_response(
        {
            "id": f"an_{found.id}",
            "object": "meeting.analysis",
            "meeting_id": found.id,
            "status": "completed",
            "version": 1,
            "summary": "The team reviewed the plan and agreed next steps.",
            "key_takeaways": ["Plan agreed"],
            "highlights": [{"text": "let us review the plan", "timestamp": 5.0}],
            "tasks": [{"content": "Send the plan", "owner": "Alex", "priority": "medium"}],
            "decisions": [{"statement": "Go ahead with the plan"}],
            "coaching": {"talk_ratio": 0.5, "questions_asked": 2, "interruptions": 0},
            "created_at": done_at,
            "updated_at": done_at,
        }
    )


SCHEMAS = {"schema_sales_discovery": ("Sales discovery", "sales_discovery")}


async def run_schema(request: web.Request) -> web.Response:
    found = bot_or_404(request)
    if isinstance(found, web.Response):
        return found
    server = server_of(request)
    schema_id = request.match_info["schemaId"]
    if schema_id not in SCHEMAS:
        return mavera_error(404, "resource_not_found", "Schema not found", param="schemaId")
    body = await read_json_object(request)
    if isinstance(body, str):
        return mavera_error(400, "invalid_field", body)
    body = body or {}
    model = body.get("model", "gpt-5.4")
    temperature = body.get("temperature", 0.2)
    force_new = body.get("force_new", False)
    if not isinstance(model, str) or not model:
        return mavera_error(400, "invalid_model", "model must be a model name", param="model")
    if (
        isinstance(temperature, bool)
        or not isinstance(temperature, int | float)
        or not 0 <= temperature <= 2
    ):
        return mavera_error(
            400, "invalid_field", "temperature must be a number from 0 to 2", param="temperature"
        )
    if not isinstance(force_new, bool):
        return mavera_error(400, "invalid_field", "force_new must be a boolean", param="force_new")
    refused = _not_ready(found, server.clock.now(), "schema result")
    if refused:
        return refused
    cached = found.schema_results.get(schema_id)
    if cached is None or force_new:
        now = iso(server.clock.now())
        name, category = SCHEMAS[schema_id]
        cached = {
            "id": f"sr_{found.id}_{len(found.schema_results) + int(force_new)}",
            "object": "meeting.schema_result",
            "meeting_id": found.id,
            "schema_id": schema_id,
            "schema_name": name,
            "schema_category": category,
            "field_values": [
                {
                    "field_name": "next_steps",
                    "field_label": "Next steps",
                    "field_type": "text",
                    "is_required": True,
                    "value": "Send the plan",
                    "quote": "agree next steps",
                    "confidence": 0.9,
                    "score": 4,
                    "score_rationale": "stated explicitly",
                }
            ],
            "scores": {"next_steps": 4},
            "overall_score": 4.0,
            "evidence": [
                {
                    "field_name": "next_steps",
                    "text": "agree next steps",
                    "speaker": "Sam",
                    "speaker_id": "spk_2",
                    "timestamp_start": 10.0,
                    "timestamp_end": 14.5,
                }
            ],
            "processing_time_ms": 800,
            "created_at": now,
            "updated_at": now,
        }
        found.schema_results[schema_id] = cached
    return json_response(cached)
