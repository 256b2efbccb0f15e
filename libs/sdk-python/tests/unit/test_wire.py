import pytest

from warden.wire import RequestIds, build_outcome, build_request, ce_headers, refusal, result_of

BASE = dict(request_id="r-1", tenant_id="acme", agent_id="invoice-bot", run_id="run-1", now_ms=1000, timeout_ms=5000)


def test_defaults_step_id_attempt_and_idempotency_key():
    r = build_request(**BASE, tool="tickets", action="read")
    assert r["stepId"] == "r-1" and r["attempt"] == 1 and r["idempotencyKey"] == "run-1:r-1"
    assert r["requestedAtMs"] == 1000 and r["deadlineMs"] == 6000
    assert r["actionKind"] == "ACTION_KIND_TOOL_CALL"
    assert r["arguments"] == {} and r["argumentsDigest"].startswith("sha256:")


def test_a_retry_of_a_step_reuses_its_idempotency_key_with_the_next_attempt():
    first = build_request(**BASE, step_id="fetch", tool="t", action="a")
    retry = build_request(**{**BASE, "request_id": "r-2"}, step_id="fetch", attempt=2, tool="t", action="a")
    assert first["idempotencyKey"] == retry["idempotencyKey"] == "run-1:fetch"
    assert retry["attempt"] == 2 and retry["requestId"] != first["requestId"]


def test_only_fields_an_agent_may_send():
    r = build_request(
        **BASE,
        kind="memory_write",
        memory_store="notes",
        memory_class="durable",
        data_classes=["SECRET", "pii"],
        estimated_tokens=800,
        environment="prod",
    )
    assert r["memoryClass"] == "MEMORY_CLASS_DURABLE" and r["dataClasses"] == ["DATA_CLASS_SECRET", "DATA_CLASS_PII"]
    refused = {"redactedArguments", "redactedPaths", "agentTokenId", "credentialId", "replyContentType"}
    assert not refused & set(r)


@pytest.mark.parametrize(
    "change", [{"timeout_ms": 0}, {"timeout_ms": 300_001}, {"kind": "toolcall"}, {"attempt": 0}, {"data_classes": ["x"]}]
)
def test_what_the_gate_would_refuse_is_refused_before_it_is_sent(change):
    with pytest.raises(ValueError):
        build_request(**{**BASE, **change})


def test_outcomes():
    ids = RequestIds("r-1", "acme", "bot", "run-1", "r-1", "run-1:r-1")
    kind, done = build_outcome(ids, status="completed", now_ms=5, result={"ok": True}, actual_tokens=7)
    assert kind == "warden.gate.v1.StepCompleted" and done["completedAtMs"] == 5 and done["actualTokens"] == 7
    assert done["resultDigest"].startswith("sha256:") and "outcomeProof" not in done
    kind, failed = build_outcome(ids, status="failed", now_ms=5, error="boom", retryable=True)
    assert kind == "warden.gate.v1.StepFailed" and failed["error"] == "boom" and failed["retryable"] is True
    assert "resultDigest" not in failed
    _, empty = build_outcome(ids, status="completed", now_ms=5)
    assert empty["resultDigest"] == ""


def test_cloudevents_headers_ask_for_json_replies():
    h = dict(ce_headers(ce_type="warden.gate.v1.GateRequested", ce_id="r-1", tenant_id="acme", agent_id="bot",
                        run_id="run-1", now_ms=1764806400000, traceparent="00-" + "1" * 32 + "-" + "2" * 16 + "-01"))
    assert h["ce_specversion"] == b"1.0" and h["ce_id"] == b"r-1" and h["ce_source"] == b"agent://acme/bot"
    assert h["ce_time"] == b"2025-12-04T00:00:00.000Z"
    assert h["content-type"] == b"application/json" and h["warden-reply-content-type"] == b"application/json"
    assert h["ce_tenantid"] == b"acme" and h["ce_agentid"] == b"bot" and h["ce_runid"] == b"run-1"
    assert h["traceparent"].startswith(b"00-")


def test_only_a_final_allow_allows():
    ids = RequestIds("r-1", "acme", "bot", "run-1", "r-1", "run-1:r-1")
    assert result_of({"verdict": "VERDICT_ALLOW", "final": True}, ids).allowed
    assert not result_of({"verdict": "VERDICT_ALLOW"}, ids).allowed
    assert not result_of({"verdict": "VERDICT_PENDING_APPROVAL"}, ids).allowed
    assert result_of({"verdict": 5, "final": True}, ids).verdict == "already_completed"
    assert result_of({"verdict": "VERDICT_SOMETHING_NEW", "final": True}, ids).verdict == "deny"
    assert not refusal(ids, "no").allowed
