"""The agent side of the gate (docs/protocol.md), synchronous.

``gate()`` publishes a GateRequested (raw arguments, their digest, the agent token and a request
proof) and waits for its decision on the agent's reply topic; with no decision before the deadline
it fails closed: a denial that never reached Warden. ``report_outcome()`` publishes StepCompleted
or StepFailed, proved by the same key.
"""

from __future__ import annotations

import queue
import threading
import time
from typing import Any, Mapping, Optional, Sequence

from .kafka import KafkaSecurity, Transport, WardenError
from .proofs import ProofKey
from .tokens import AgentCredentials, AgentTokenSource
from .wire import (
    _NO_RESULT,
    GateResult,
    RequestIds,
    build_outcome,
    build_request,
    ce_headers,
    encode,
    new_request_id,
    refusal,
    result_of,
)

__all__ = ["WardenClient", "ClientOptions"]

DEFAULT_TIMEOUT_MS = 5000


def _now_ms() -> int:
    return int(time.time() * 1000)


class ClientOptions:
    """What both clients share: the agent, its key and token source, the Kafka transport's settings."""

    def __init__(
        self,
        *,
        brokers: str | Sequence[str],
        tenant_id: str,
        agent_id: str,
        topic_prefix: str = "warden.",
        credentials: Optional[AgentCredentials] = None,
        proof_key: Optional[ProofKey] = None,
        client_id: str = "warden-sdk-python",
        default_timeout_ms: int = DEFAULT_TIMEOUT_MS,
        security: Optional[KafkaSecurity] = None,
        kafka_ssl: Optional[bool] = None,
        kafka_ssl_ca_file: Optional[str] = None,
        kafka_sasl_mechanism: Optional[str] = None,
        kafka_sasl_username: Optional[str] = None,
        kafka_sasl_password: Optional[str] = None,
        kafka_config: Optional[Mapping[str, Any]] = None,
    ) -> None:
        if credentials is not None and credentials.agent_id != agent_id:
            raise ValueError(f"the credentials are agent {credentials.agent_id}'s, the client is {agent_id}'s")
        self.brokers = brokers if isinstance(brokers, str) else ",".join(brokers)
        self.tenant_id = tenant_id
        self.agent_id = agent_id
        self.topic_prefix = topic_prefix
        self.client_id = client_id
        self.default_timeout_ms = default_timeout_ms
        self.key = proof_key or ProofKey.generate()
        self.tokens = AgentTokenSource(credentials, self.key) if credentials is not None else None
        named = dict(
            ssl=kafka_ssl,
            ssl_ca_file=kafka_ssl_ca_file,
            sasl_mechanism=kafka_sasl_mechanism,
            sasl_username=kafka_sasl_username,
            sasl_password=kafka_sasl_password,
        )
        if security is not None and any(v is not None for v in named.values()):
            raise ValueError("give security or the kafka_ssl/kafka_sasl_* options, not both")
        self.security = security or KafkaSecurity(**{k: v for k, v in named.items() if v is not None})
        self.kafka_config = dict(kafka_config or {})

    def transport(self) -> Transport:
        return Transport(
            brokers=self.brokers,
            tenant_id=self.tenant_id,
            agent_id=self.agent_id,
            topic_prefix=self.topic_prefix,
            client_id=self.client_id,
            security=self.security,
            kafka_config=self.kafka_config,
        )


class _Core:
    """Request building and bookkeeping shared by the sync and async clients."""

    options: ClientOptions
    _transport: Transport

    def _init(self, options: ClientOptions, transport: Transport) -> None:
        self.options = options
        self._transport = transport
        self._proved: set[str] = set()
        self._proved_lock = threading.Lock()

    @property
    def tenant_id(self) -> str:
        return self.options.tenant_id

    @property
    def agent_id(self) -> str:
        return self.options.agent_id

    @property
    def proof_key(self) -> ProofKey:
        return self.options.key

    def _ids(self, request_id: Optional[str], run_id: str) -> RequestIds:
        o = self.options
        return RequestIds(request_id or new_request_id(), o.tenant_id, o.agent_id, run_id, "", "")

    def _identity_problem(self, tenant_id: Optional[str], agent_id: Optional[str]) -> Optional[str]:
        o = self.options
        if (tenant_id and tenant_id != o.tenant_id) or (agent_id and agent_id != o.agent_id):
            return f"this client speaks for {o.tenant_id}/{o.agent_id}, not {tenant_id}/{agent_id} (fail closed)"
        return None

    def _request(
        self, ids: RequestIds, token: Optional[str], timeout_ms: int, fields: dict[str, Any], traceparent: Optional[str]
    ):
        request = build_request(
            request_id=ids.request_id,
            tenant_id=ids.tenant_id,
            agent_id=ids.agent_id,
            run_id=ids.run_id,
            now_ms=_now_ms(),
            timeout_ms=timeout_ms,
            agent_token=token,
            proof_key=self.options.key,
            **fields,
        )
        if token:
            with self._proved_lock:
                self._proved.add(ids.request_id)
        sent = RequestIds(
            ids.request_id, ids.tenant_id, ids.agent_id, ids.run_id, request["stepId"], request["idempotencyKey"]
        )
        headers = ce_headers(
            ce_type="warden.gate.v1.GateRequested",
            ce_id=ids.request_id,
            tenant_id=ids.tenant_id,
            agent_id=ids.agent_id,
            run_id=ids.run_id,
            now_ms=request["requestedAtMs"],
            traceparent=traceparent,
        )
        return request, sent, headers

    def _outcome(self, request: RequestIds | GateResult, status: str, **fields: Any):
        ids = request.request if isinstance(request, GateResult) else request
        with self._proved_lock:
            proved = ids.request_id in self._proved
            self._proved.discard(ids.request_id)
        key = self.options.key if proved or self.options.tokens is not None else None
        now = _now_ms()
        ce_type, outcome = build_outcome(ids, status=status, now_ms=now, proof_key=key, **fields)
        headers = ce_headers(
            ce_type=ce_type,
            ce_id=new_request_id(),
            tenant_id=ids.tenant_id,
            agent_id=ids.agent_id,
            run_id=ids.run_id,
            now_ms=now,
        )
        return ids, outcome, headers


_GATE_FIELDS = (
    "kind",
    "tool",
    "action",
    "arguments",
    "step_id",
    "parent_step_id",
    "attempt",
    "idempotency_key",
    "data_classes",
    "estimated_tokens",
    "estimated_cost",
    "on_behalf_of",
    "environment",
    "model",
    "memory_store",
    "memory_class",
    "delegate_to_agent_id",
    "business_outcome",
)


def _split(fields: dict[str, Any]) -> tuple[dict[str, Any], Optional[str]]:
    unknown = set(fields) - set(_GATE_FIELDS) - {"traceparent"}
    if unknown:
        raise TypeError(f"gate() got unknown arguments: {', '.join(sorted(unknown))}")
    traceparent = fields.pop("traceparent", None)
    return {k: v for k, v in fields.items() if v is not None}, traceparent


class WardenClient(_Core):
    """The synchronous client. Thread-safe: many threads may ask the gate at once.

    >>> client = WardenClient(brokers="127.0.0.1:19092", tenant_id="acme", agent_id="invoice-bot",
    ...                       credentials=AgentCredentials(registry_url=..., agent_id="invoice-bot", client_secret=...))
    >>> result = client.gate(run_id="run-1", tool="tickets", action="read", arguments={"ticket": 42})
    """

    def __init__(self, **options: Any) -> None:
        opts = ClientOptions(**options)
        self._init(opts, opts.transport())

    def __enter__(self) -> "WardenClient":
        return self

    def __exit__(self, *_exc: Any) -> None:
        self.close()

    def gate(
        self,
        *,
        run_id: str,
        timeout_ms: Optional[int] = None,
        approval_timeout_ms: int = 0,
        request_id: Optional[str] = None,
        tenant_id: Optional[str] = None,
        agent_id: Optional[str] = None,
        agent_token: Optional[str] = None,
        **fields: Any,
    ) -> GateResult:
        """Asks the gate and waits for the decision; no decision within ``timeout_ms`` is a deny.

        With ``approval_timeout_ms``, a ``pending_approval`` decision is not the answer yet: the call
        waits (up to that long) for the final decision of the same request; if none comes in time
        the pending decision is returned, which allows nothing.
        """
        timeout = timeout_ms or self.options.default_timeout_ms
        gate_fields, traceparent = _split(dict(fields))
        ids = self._ids(request_id, run_id)
        problem = self._identity_problem(tenant_id, agent_id)
        if problem:
            return refusal(ids, problem)
        token = agent_token
        if not token and self.options.tokens is not None:
            try:
                token = self.options.tokens.token()
            except Exception as error:  # noqa: BLE001 - any failure fails closed
                return refusal(ids, f"no agent token: {error} (fail closed)")
        request, sent, headers = self._request(ids, token, timeout, gate_fields, traceparent)
        deadline = time.monotonic() + timeout / 1000
        replies: "queue.Queue[dict[str, Any]]" = queue.Queue()
        delivered: "queue.Queue[Optional[str]]" = queue.Queue()
        self._transport.wait_for(sent.request_id, replies.put)
        try:
            self._transport.publish(self._transport.requests_topic, run_id, encode(request), headers, delivered.put)
            try:
                error = delivered.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                error = None  # not confirmed yet: a decision may still come before the deadline
            if error is not None:
                return refusal(sent, f"gate request could not be published: {error} (fail closed)")
            interim: Optional[dict[str, Any]] = None
            while True:
                try:
                    decision = replies.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    break
                if not decision.get("final") and approval_timeout_ms > 0:
                    if interim is None:
                        interim = decision
                        deadline = time.monotonic() + approval_timeout_ms / 1000
                    continue
                return result_of(decision, sent)
            if interim is not None:
                return result_of(interim, sent)
            return refusal(sent, f"no decision within {timeout} ms (fail closed)", timed_out=True)
        finally:
            self._transport.forget(sent.request_id)

    def report_outcome(
        self,
        request: RequestIds | GateResult,
        *,
        status: str = "completed",
        result: Any = _NO_RESULT,
        actual_tokens: float = 0,
        actual_cost: Optional[Mapping[str, Any]] = None,
        duration_ms: float = 0,
        error: str = "",
        retryable: bool = False,
        timeout_s: float = 10.0,
    ) -> None:
        """Publishes the step's outcome (StepCompleted, or StepFailed with ``status="failed"``), proved
        by the key that proved its request; returns once the broker has it."""
        ids, outcome, headers = self._outcome(
            request,
            status,
            result=result,
            actual_tokens=actual_tokens,
            actual_cost=actual_cost,
            duration_ms=duration_ms,
            error=error,
            retryable=retryable,
        )
        delivered: "queue.Queue[Optional[str]]" = queue.Queue()
        self._transport.publish(self._transport.outcomes_topic, ids.run_id, encode(outcome), headers, delivered.put)
        try:
            problem = delivered.get(timeout=timeout_s)
        except queue.Empty:
            problem = f"not acknowledged within {timeout_s} s"
        if problem is not None:
            raise WardenError(f"the outcome of {ids.request_id} could not be published: {problem}")

    def close(self) -> None:
        self._transport.close()
