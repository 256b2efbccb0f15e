"""A transport without Kafka: records what is published and answers as a test says."""

import json
import threading
from typing import Any, Callable, Optional

from warden.aio import AsyncWardenClient
from warden.client import ClientOptions, WardenClient


class FakeTransport:
    requests_topic = "t.gate.requests"
    outcomes_topic = "t.gate.outcomes"

    def __init__(self, answer: Optional[Callable[[dict], list]] = None, delivery_error: Optional[str] = None):
        # answer(request) -> [(delay_s, decision dict), ...]
        self.answer = answer
        self.delivery_error = delivery_error
        self.published: list[tuple[str, str, dict, dict]] = []
        self.waiters: dict[str, Callable[[dict], None]] = {}
        self.closed = False

    def wait_for(self, request_id, deliver):
        self.waiters[request_id] = deliver

    def forget(self, request_id):
        self.waiters.pop(request_id, None)

    def publish(self, topic, key, value, headers, done):
        body = json.loads(value)
        self.published.append((topic, key, body, {k: v.decode() for k, v in headers}))
        done(self.delivery_error)
        if topic == self.requests_topic and self.answer:
            for delay, decision in self.answer(body):
                timer = threading.Timer(delay, self._deliver, args=(body["requestId"], decision))
                timer.daemon = True
                timer.start()

    def _deliver(self, request_id, decision):
        deliver = self.waiters.get(request_id)
        if deliver:
            deliver({"requestId": request_id, **decision})

    def outcomes(self) -> list[tuple[str, dict, dict]]:
        return [(h["ce_type"], b, h) for t, _k, b, h in self.published if t == self.outcomes_topic]

    def requests(self) -> list[dict]:
        return [b for t, _k, b, _h in self.published if t == self.requests_topic]

    def close(self, timeout_s: float = 5.0):
        self.closed = True


def options(**extra: Any) -> ClientOptions:
    return ClientOptions(brokers="unused:9092", tenant_id="acme", agent_id="invoice-bot", **extra)


def sync_client(transport: FakeTransport, **extra: Any) -> WardenClient:
    client = WardenClient.__new__(WardenClient)
    client._init(options(**extra), transport)
    return client


def async_client(transport: FakeTransport, **extra: Any) -> AsyncWardenClient:
    return AsyncWardenClient(options(**extra), transport)


ALLOW = {"verdict": "VERDICT_ALLOW", "final": True, "reason": "allowed", "decisionToken": "a.b.c", "tokenExpiresAtMs": 1}
DENY = {"verdict": "VERDICT_DENY", "final": True, "reason": "action write is outside the agent's envelope"}
PENDING = {"verdict": "VERDICT_PENDING_APPROVAL", "reason": "critical: approval required"}
