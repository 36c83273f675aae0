"""Structured JSON logs carrying the correlation id, and the Prometheus metrics."""

from __future__ import annotations

import contextvars
import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from prometheus_client import Counter, Gauge, Histogram

correlation_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "correlation_id", default=None
)
causation_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "causation_id", default=None
)

EVENTS_PUBLISHED = Counter(
    "womento_events_published_total", "Events the outbox relay published", ["service", "type"]
)
EVENTS_CONSUMED = Counter(
    "womento_events_consumed_total",
    "Event deliveries handled, by outcome (processed, duplicate, retried, dead_lettered)",
    ["service", "type", "outcome"],
)
DEAD_LETTERS = Counter(
    "womento_dead_letters_total", "Messages moved to the dead-letter stream", ["service"]
)
FORGED_EVENTS = Counter(
    "womento_forged_events_total",
    "Deliveries refused because the envelope's source does not own the subject",
    ["service", "subject"],
)
FORGED_COMMANDS = Counter(
    "womento_forged_commands_total",
    "Commands ignored because their reply subject is not the inbox of a service that may send"
    " commands (a delivery by the server, not a request)",
    ["service", "command"],
)
OUTBOX_PENDING = Gauge("womento_outbox_pending", "Outbox rows not yet published", ["service"])
OUTBOX_OLDEST = Gauge(
    "womento_outbox_oldest_pending_seconds", "Age of the oldest unpublished outbox row", ["service"]
)
HTTP_REQUESTS = Counter(
    "womento_http_requests_total", "HTTP requests", ["service", "method", "route", "status"]
)
HTTP_DURATION = Histogram(
    "womento_http_request_duration_seconds", "HTTP request duration", ["service", "route"]
)

_STANDARD_ATTRS = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "color_message"}


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if (cid := correlation_id.get()) is not None:
            entry["correlation_id"] = cid
        if (caus := causation_id.get()) is not None:
            entry["causation_id"] = caus
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging(service: str, level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "faststream"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").setLevel("WARNING")


@contextmanager
def correlation(correlation: UUID | str, causation: UUID | str | None = None) -> Iterator[None]:
    """Log lines inside carry this correlation (and causation) id."""
    token = correlation_id.set(str(correlation))
    token2 = causation_id.set(str(causation) if causation is not None else None)
    try:
        yield
    finally:
        correlation_id.reset(token)
        causation_id.reset(token2)
