"""Prometheus metrics: what an operator watches (connections, messages, errors, latency).

HTTP request counts and latency come from Litestar's Prometheus middleware (`chat_requests_*`); the
socket side is counted here. With `--workers N`, set PROMETHEUS_MULTIPROC_DIR so /metrics sums them.
"""

from __future__ import annotations

import functools

from litestar.enums import ScopeType
from litestar.plugins.prometheus import PrometheusConfig, PrometheusController
from prometheus_client import Counter, Gauge, Histogram

CONNECTIONS = Gauge("chat_ws_connections", "Open WebSocket connections on this process", multiprocess_mode="livesum")
CONNECTS = Counter("chat_ws_connects", "WebSocket connections accepted", ["outcome"])
EVENTS = Counter("chat_ws_events", "Client events handled", ["type"])
MESSAGES = Counter("chat_messages_sent", "Messages stored and published", ["message_type"])
ERRORS = Counter("chat_errors", "Error events and failed requests", ["code"])
DROPPED = Counter("chat_ws_dropped", "Sockets dropped for reading too slowly")
EVENT_SECONDS = Histogram(
    "chat_ws_event_seconds",
    "Time to handle one client event, until its reply or broadcast is queued",
    ["type"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)

prometheus = PrometheusConfig(
    app_name="chatcore",
    prefix="chat",
    group_path=True,  # one series per route, not per room id
    exclude=["^/metrics", "^/health", "^/ready"],
    # Sockets are counted below; a socket's "request" lasts as long as it is open and its every frame would
    # pass through the middleware's wrapped send.
    scopes={ScopeType.HTTP},
)


class Metrics(PrometheusController):
    path = "/metrics"


@functools.cache
def _event_series(event_type: str) -> tuple[Histogram, Counter]:
    """labels() looks the child up under a lock each time; event types are few, so keep them."""
    return EVENT_SECONDS.labels(event_type), EVENTS.labels(event_type)


@functools.cache
def sent(message_type: str) -> Counter:
    return MESSAGES.labels(message_type)


def handled(event_type: str, seconds: float) -> None:
    histogram, counter = _event_series(event_type)
    histogram.observe(seconds)
    counter.inc()
