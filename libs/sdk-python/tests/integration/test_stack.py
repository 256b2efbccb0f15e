"""The Python SDK against the six services as processes on the real broker, agent tokens required."""

import asyncio
import json
import time
import uuid

import pytest

import warden
from warden.proofs import b64url_decode

from .conftest import READ


def claims_of(jwt):
    return json.loads(b64url_decode(jwt.split(".")[1]))


def test_an_allowed_call_with_a_token_and_proof_whose_outcome_counts(client, stack):
    args = {"ticket": 42, "api_key": "sk-live-1234567890abcdef", "note": "customer asked twice"}
    result = client.gate(run_id="run-allow", step_id="step-read", arguments=args, **READ)
    assert result.allowed and result.verdict == "allow", result.reason
    token = claims_of(result.decision_token)
    assert token["aud"] == "tickets" and token["act"] == "read" and token["rid"] == result.request_id
    assert token["args"] == warden.digest(args)
    assert result.token_expires_at_ms > time.time() * 1000
    # The request of record: the gate verified the token (its id is recorded) and redacted the arguments.
    recorded = result.decision["request"]
    assert recorded["agentTokenId"] and not recorded.get("agentToken") and not recorded.get("requestProof")
    assert "arguments" not in recorded
    assert recorded["argumentsDigest"] == warden.digest(args)
    assert recorded["redactedArguments"]["api_key"] == "[redacted]"
    assert recorded["redactedArguments"]["ticket"] == 42
    assert "/api_key" in recorded["redactedPaths"]

    client.report_outcome(result, result={"status": "open"}, actual_tokens=7, duration_ms=12)
    stack.report("completed", result.request_id)
    # The outcome counted: a retry of the same step (same idempotency key, next attempt) is already completed.
    deadline = time.monotonic() + 30
    while True:
        retry = client.gate(run_id="run-allow", step_id="step-read", attempt=2, arguments=args, **READ)
        assert retry.request.idempotency_key == result.request.idempotency_key == "run-allow:step-read"
        if retry.verdict == "already_completed" or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert retry.verdict == "already_completed" and not retry.allowed
    assert retry.completed_by_request_id == result.request_id


def test_an_action_outside_the_agents_grant_is_denied(client):
    result = client.gate(run_id="run-deny", arguments={"ticket": 42}, **{**READ, "action": "write"})
    assert result.verdict == "deny" and not result.allowed and not result.timed_out
    assert "outside the agent" in result.reason


def test_no_decision_in_time_is_a_deny(client):
    result = client.gate(run_id="run-late", arguments={"ticket": 42}, timeout_ms=1, **READ)
    assert not result.allowed and result.timed_out and "fail closed" in result.reason


def test_a_refused_credential_is_a_deny(stack):
    with warden.WardenClient(**stack.options(credentials=stack.credentials(secret="cred.wrong"))) as bad:
        result = bad.gate(run_id="run-bad-secret", arguments={}, **READ)
    assert not result.allowed and "no agent token" in result.reason and "401" in result.reason


def test_a_client_for_an_unregistered_agent_cannot_start(stack):
    with pytest.raises(warden.WardenError, match="no reply topic"):
        warden.WardenClient(**{**stack.options(credentials=None), "agent_id": "nobody-bot"})


def test_pending_approval_waits_for_the_final_decision(client):
    # refund requires approval; the Jest suite approves the task over the approval service's HTTP API.
    started = time.monotonic()
    result = client.gate(
        run_id="run-refund",
        arguments={"ticket": 42, "amount": 30},
        timeout_ms=10_000,
        approval_timeout_ms=90_000,
        **{**READ, "action": "refund"},
    )
    assert result.verdict == "allow" and result.allowed and result.final, result.reason
    assert result.decision["context"]["approval"]["taskId"]
    assert claims_of(result.decision_token)["act"] == "refund"
    assert time.monotonic() - started < 90


def test_private_key_jwt(stack):
    if not stack.private_key:
        pytest.skip("no public_key credential registered")
    credentials = warden.AgentCredentials(
        registry_url=stack.registry, agent_id=stack.agent, private_key=stack.private_key, credential_id=stack.credential_id
    )
    with warden.WardenClient(**stack.options(credentials=credentials)) as c:
        result = c.gate(run_id="run-pkjwt", arguments={"ticket": 7}, **READ)
        assert result.allowed, result.reason
        c.report_outcome(result, result={"status": "closed"}, actual_tokens=3)
    stack.report("completed", result.request_id)


async def test_the_asyncio_client(stack):
    async with await warden.AsyncWardenClient.connect(**stack.options()) as c:
        actions = ["read", "read", "write", "read"]
        results = await asyncio.gather(
            *(c.gate(run_id=f"run-async-{i}", arguments={"ticket": i}, **{**READ, "action": a}) for i, a in enumerate(actions))
        )
        assert [r.allowed for r in results] == [True, True, False, True], [r.reason for r in results]
        for r in results:
            if r.allowed:
                await c.report_outcome(r, result={"ok": True}, actual_tokens=2)
                stack.report("completed", r.request_id)
        late = await c.gate(run_id="run-async-late", arguments={}, timeout_ms=1, **READ)
        assert not late.allowed and late.timed_out


def test_the_decorator(client, stack):
    calls = []

    @warden.gated(tool="tickets", action="read", client=client, environment="prod", estimated_tokens=10)
    def read_ticket(ticket: int):
        calls.append(warden.current_decision().request_id)
        return {"ticket": ticket, "status": "open"}

    @warden.gated(tool="tickets", action="write", client=client, environment="prod")
    def write_ticket(ticket: int, text: str):
        raise AssertionError("a denied call must not run")

    with warden.run(f"run-decorated-{uuid.uuid4().hex[:8]}"):
        assert read_ticket(42) == {"ticket": 42, "status": "open"}
        with pytest.raises(warden.GateDenied) as denied:
            write_ticket(42, "closing")
    assert denied.value.verdict == "deny" and "outside the agent" in denied.value.reason
    assert len(calls) == 1
    stack.report("completed", calls[0])
