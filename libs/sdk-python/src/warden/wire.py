"""What goes on the wire (docs/protocol.md): the GateRequested and outcomes as protobuf-JSON, their
CloudEvents headers, and the decisions read back. Pure: the clock and ids come in."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Mapping, Optional, Sequence

from .canonical import digest
from .proofs import ProofKey, outcome_proof, request_proof

__all__ = [
    "ACTION_KINDS",
    "DATA_CLASSES",
    "MEMORY_CLASSES",
    "VERDICTS",
    "RequestIds",
    "GateResult",
    "build_request",
    "build_outcome",
    "ce_headers",
    "result_of",
    "refusal",
    "MAX_DEADLINE_MS",
]

ACTION_KINDS = ("step", "model_call", "tool_call", "memory_read", "memory_write", "delegation")
DATA_CLASSES = ("public", "internal", "confidential", "pii", "phi", "pci", "secret")
MEMORY_CLASSES = ("working", "session", "durable", "shared")
VERDICTS = ("unspecified", "allow", "deny", "pending_approval", "expired", "already_completed")
MAX_DEADLINE_MS = 300_000
JSON = "application/json"


def _enum(value: str, names: Sequence[str], prefix: str, what: str) -> str:
    short = value.lower()
    if short.upper().startswith(prefix):
        short = short[len(prefix) :]
    if short not in names:
        raise ValueError(f"{what} must be one of {', '.join(names)}, got {value!r}")
    return prefix + short.upper()


@dataclass(frozen=True)
class RequestIds:
    """The ids of a request the gate was asked about, to report its outcome with."""

    request_id: str
    tenant_id: str
    agent_id: str
    run_id: str
    step_id: str
    idempotency_key: str


@dataclass(frozen=True)
class GateResult:
    """The gate's answer. ``allowed`` is true only for a final ``allow``; everything else is no."""

    verdict: str
    reason: str
    request_id: str
    request: RequestIds
    allowed: bool
    timed_out: bool = False
    final: bool = True
    decision: Optional[dict[str, Any]] = None
    decision_token: Optional[str] = None
    token_expires_at_ms: Optional[float] = None
    hints: tuple[str, ...] = field(default_factory=tuple)
    completed_by_request_id: Optional[str] = None

    def __bool__(self) -> bool:
        return self.allowed


def build_request(
    *,
    request_id: str,
    tenant_id: str,
    agent_id: str,
    run_id: str,
    now_ms: int,
    timeout_ms: int,
    kind: str = "tool_call",
    tool: Optional[str] = None,
    action: Optional[str] = None,
    arguments: Optional[Mapping[str, Any]] = None,
    step_id: Optional[str] = None,
    parent_step_id: Optional[str] = None,
    attempt: int = 1,
    idempotency_key: Optional[str] = None,
    data_classes: Sequence[str] = (),
    estimated_tokens: float = 0,
    estimated_cost: Optional[Mapping[str, Any]] = None,
    on_behalf_of: Optional[str] = None,
    environment: Optional[str] = None,
    model: Optional[str] = None,
    memory_store: Optional[str] = None,
    memory_class: Optional[str] = None,
    delegate_to_agent_id: Optional[str] = None,
    business_outcome: Optional[str] = None,
    agent_token: Optional[str] = None,
    proof_key: Optional[ProofKey] = None,
) -> dict[str, Any]:
    """A GateRequested in protobuf-JSON, the protocol's defaults applied, proved when it carries a token.

    The arguments go raw (the gate redacts them before anything is stored) with their digest.
    """
    if not 0 < timeout_ms <= MAX_DEADLINE_MS:
        raise ValueError(f"the deadline must be 1..{MAX_DEADLINE_MS} ms after the request, got {timeout_ms}")
    if attempt < 1:
        raise ValueError("attempt starts at 1")
    args = dict(arguments or {})
    step = step_id or request_id
    request: dict[str, Any] = {
        "requestId": request_id,
        "idempotencyKey": idempotency_key or f"{run_id}:{step}",
        "stepId": step,
        "attempt": attempt,
        "requestedAtMs": now_ms,
        "deadlineMs": now_ms + timeout_ms,
        "tenantId": tenant_id,
        "agentId": agent_id,
        "runId": run_id,
        "actionKind": _enum(kind, ACTION_KINDS, "ACTION_KIND_", "kind"),
        "arguments": args,
        "argumentsDigest": digest(args),
    }
    optional = {
        "parentStepId": parent_step_id,
        "tool": tool,
        "action": action,
        "onBehalfOf": on_behalf_of,
        "environment": environment,
        "model": model,
        "memoryStore": memory_store,
        "delegateToAgentId": delegate_to_agent_id,
        "businessOutcome": business_outcome,
        "agentToken": agent_token,
    }
    request.update({k: v for k, v in optional.items() if v})
    if data_classes:
        request["dataClasses"] = [_enum(c, DATA_CLASSES, "DATA_CLASS_", "a data class") for c in data_classes]
    if estimated_tokens:
        request["estimatedTokens"] = estimated_tokens
    if estimated_cost:
        request["estimatedCost"] = {"currency": estimated_cost["currency"], "micros": estimated_cost["micros"]}
    if memory_class:
        request["memoryClass"] = _enum(memory_class, MEMORY_CLASSES, "MEMORY_CLASS_", "memory_class")
    if agent_token and proof_key is not None:
        request["requestProof"] = request_proof(request, proof_key)
    return request


_NO_RESULT: Any = object()


def build_outcome(
    ids: RequestIds,
    *,
    status: str,
    now_ms: int,
    result: Any = _NO_RESULT,
    actual_tokens: float = 0,
    actual_cost: Optional[Mapping[str, Any]] = None,
    duration_ms: float = 0,
    error: str = "",
    retryable: bool = False,
    proof_key: Optional[ProofKey] = None,
) -> tuple[str, dict[str, Any]]:
    """(CloudEvents type, protobuf-JSON) of a StepCompleted or StepFailed, proved by ``proof_key``."""
    if status not in ("completed", "failed"):
        raise ValueError("an outcome's status is completed or failed")
    outcome: dict[str, Any] = {
        "requestId": ids.request_id,
        "stepId": ids.step_id,
        "idempotencyKey": ids.idempotency_key,
        "tenantId": ids.tenant_id,
        "agentId": ids.agent_id,
        "runId": ids.run_id,
        "actualTokens": actual_tokens,
        "durationMs": duration_ms,
    }
    if actual_cost:
        outcome["actualCost"] = {"currency": actual_cost["currency"], "micros": actual_cost["micros"]}
    if status == "completed":
        outcome["resultDigest"] = "" if result is _NO_RESULT else digest(result)
        outcome["completedAtMs"] = now_ms
        kind = "warden.gate.v1.StepCompleted"
    else:
        outcome["error"] = error
        outcome["retryable"] = retryable
        outcome["failedAtMs"] = now_ms
        kind = "warden.gate.v1.StepFailed"
    if proof_key is not None:
        outcome["outcomeProof"] = outcome_proof(outcome, status, proof_key)
    return kind, outcome


def ce_headers(
    *,
    ce_type: str,
    ce_id: str,
    tenant_id: str,
    agent_id: str,
    run_id: str,
    now_ms: int,
    traceparent: Optional[str] = None,
    tracestate: Optional[str] = None,
) -> list[tuple[str, bytes]]:
    """The CloudEvents 1.0 headers (Kafka binary mode) of a record an agent writes; replies asked for in JSON."""
    time = datetime.fromtimestamp(now_ms / 1000, tz=timezone.utc).isoformat(timespec="milliseconds")
    headers = {
        "ce_specversion": "1.0",
        "ce_type": ce_type,
        "ce_id": ce_id,
        "ce_source": f"agent://{tenant_id}/{agent_id}",
        "ce_time": time.replace("+00:00", "Z"),
        "content-type": JSON,
        "ce_tenantid": tenant_id,
        "ce_agentid": agent_id,
        "ce_runid": run_id,
        "warden-reply-content-type": JSON,
    }
    if traceparent:
        headers["traceparent"] = traceparent
    if tracestate:
        headers["tracestate"] = tracestate
    return [(k, v.encode("utf-8")) for k, v in headers.items()]


def encode(data: Mapping[str, Any]) -> bytes:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode("utf-8")


def verdict_name(value: Any) -> str:
    if isinstance(value, int) and 0 <= value < len(VERDICTS):
        return VERDICTS[value]
    text = str(value or "").lower()
    return text[len("verdict_") :] if text.startswith("verdict_") else text


def result_of(decision: Mapping[str, Any], ids: RequestIds) -> GateResult:
    """A GateResult from a decoded GateDecided (protobuf-JSON)."""
    verdict = verdict_name(decision.get("verdict"))
    if verdict not in VERDICTS[1:]:
        verdict = "deny"
    final = bool(decision.get("final"))
    return GateResult(
        verdict=verdict,
        reason=str(decision.get("reason") or ""),
        request_id=ids.request_id,
        request=ids,
        allowed=verdict == "allow" and final,
        final=final,
        decision=dict(decision),
        decision_token=decision.get("decisionToken") or None,
        token_expires_at_ms=decision.get("tokenExpiresAtMs") or None,
        hints=tuple(decision.get("hints") or ()),
        completed_by_request_id=decision.get("completedByRequestId") or None,
    )


def refusal(ids: RequestIds, reason: str, timed_out: bool = False) -> GateResult:
    """A denial that never reached Warden (the client failed closed)."""
    return GateResult(verdict="deny", reason=reason, request_id=ids.request_id, request=ids, allowed=False, timed_out=timed_out)


def new_request_id() -> str:
    return str(uuid.uuid4())
