"""The sync and async clients against a transport that answers as each test says: fail closed."""

import asyncio
import time

import pytest

from warden import AgentCredentials, ProofKey
from warden.proofs import verify_jws

from .fakes import ALLOW, DENY, PENDING, FakeTransport, async_client, sync_client

ASK = dict(run_id="run-1", tool="tickets", action="read", arguments={"ticket": 42})


class StaticTokens:
    def __init__(self, token="agent-token", error=None):
        self._token, self._error = token, error

    def token(self):
        if self._error:
            raise self._error
        return self._token


def test_allow_carries_the_decision_token_and_the_request_ids():
    t = FakeTransport(lambda r: [(0.01, ALLOW)])
    result = sync_client(t).gate(**ASK)
    assert result.allowed and result.verdict == "allow" and result.decision_token == "a.b.c"
    assert result.request.step_id == result.request_id and result.request.idempotency_key == f"run-1:{result.request_id}"
    [sent] = t.requests()
    assert sent["arguments"] == {"ticket": 42} and sent["tool"] == "tickets"
    assert t.published[0][1] == "run-1"  # keyed by run id
    assert t.waiters == {}  # forgotten once answered


def test_no_decision_before_the_deadline_is_a_deny():
    t = FakeTransport(lambda r: [(1.0, ALLOW)])  # too late
    started = time.monotonic()
    result = sync_client(t).gate(**ASK, timeout_ms=150)
    assert time.monotonic() - started < 0.8
    assert not result.allowed and result.verdict == "deny" and result.timed_out
    assert "fail closed" in result.reason and result.decision is None


def test_a_publish_that_fails_is_a_deny():
    result = sync_client(FakeTransport(lambda r: [(0, ALLOW)], delivery_error="Broker: topic authorization failed")).gate(**ASK)
    assert not result.allowed and "could not be published" in result.reason


def test_no_token_is_a_deny_and_nothing_is_sent():
    t = FakeTransport(lambda r: [(0, ALLOW)])
    client = sync_client(t)
    client.options.tokens = StaticTokens(error=RuntimeError("token endpoint answered 401: invalid_client"))
    result = client.gate(**ASK)
    assert not result.allowed and "no agent token" in result.reason and "401" in result.reason
    assert t.published == []


def test_another_agents_identity_is_refused():
    result = sync_client(FakeTransport(lambda r: [(0, ALLOW)])).gate(**ASK, agent_id="someone-else")
    assert not result.allowed and "speaks for acme/invoice-bot" in result.reason


def test_deny_carries_the_reason():
    result = sync_client(FakeTransport(lambda r: [(0, DENY)])).gate(**ASK)
    assert result.verdict == "deny" and "outside the agent" in result.reason and not result.timed_out


def test_pending_approval_is_not_an_answer_when_asked_to_wait():
    t = FakeTransport(lambda r: [(0.01, PENDING), (0.3, ALLOW)])
    result = sync_client(t).gate(**ASK, timeout_ms=200, approval_timeout_ms=2000)
    assert result.allowed and result.verdict == "allow"


def test_pending_approval_without_waiting_allows_nothing():
    result = sync_client(FakeTransport(lambda r: [(0.01, PENDING), (0.3, ALLOW)])).gate(**ASK)
    assert result.verdict == "pending_approval" and not result.allowed and not result.final


def test_pending_approval_not_resolved_in_time_allows_nothing():
    t = FakeTransport(lambda r: [(0.01, PENDING), (2.0, ALLOW)])
    result = sync_client(t).gate(**ASK, timeout_ms=200, approval_timeout_ms=200)
    assert result.verdict == "pending_approval" and not result.allowed


def test_a_token_proves_the_request_and_then_its_outcome():
    t = FakeTransport(lambda r: [(0, ALLOW)])
    client = sync_client(t)
    client.options.tokens = StaticTokens()
    result = client.gate(**ASK)
    [sent] = t.requests()
    assert sent["agentToken"] == "agent-token"
    header, _ = verify_jws(sent["requestProof"])
    assert header["jwk"] == client.proof_key.jwk
    client.report_outcome(result, result={"status": "open"}, actual_tokens=7, duration_ms=3)
    [(ce_type, outcome, headers)] = t.outcomes()
    assert ce_type == "warden.gate.v1.StepCompleted" and headers["ce_id"] != result.request_id
    assert outcome["requestId"] == result.request_id and outcome["idempotencyKey"] == result.request.idempotency_key
    header, claims = verify_jws(outcome["outcomeProof"])
    assert header["typ"] == "warden-outcome+jwt" and claims["rid"] == result.request_id


def test_a_failed_outcome():
    t = FakeTransport(lambda r: [(0, ALLOW)])
    client = sync_client(t)
    client.report_outcome(client.gate(**ASK), status="failed", error="timeout", retryable=True)
    [(ce_type, outcome, _)] = t.outcomes()
    assert ce_type == "warden.gate.v1.StepFailed" and outcome["retryable"] is True
    assert "outcomeProof" not in outcome  # the request carried no token: nothing to prove


def test_credentials_of_another_agent_are_refused():
    with pytest.raises(ValueError):
        sync_client(
            FakeTransport(),
            credentials=AgentCredentials(registry_url="http://x", agent_id="other", client_secret="s"),
        )


def test_a_given_proof_key_is_used():
    key = ProofKey.generate()
    assert sync_client(FakeTransport(), proof_key=key).proof_key is key


async def test_async_allow_and_outcome():
    t = FakeTransport(lambda r: [(0.01, ALLOW)])
    client = async_client(t)
    result = await client.gate(**ASK)
    assert result.allowed
    await client.report_outcome(result, result=[1, 2])
    assert len(t.outcomes()) == 1


async def test_async_fails_closed_without_blocking_the_loop():
    t = FakeTransport(lambda r: [(1.0, ALLOW)])
    client = async_client(t)
    ticks = 0

    async def ticker():
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    task = asyncio.create_task(ticker())
    result = await client.gate(**ASK, timeout_ms=200)
    task.cancel()
    assert not result.allowed and result.timed_out and ticks >= 5


async def test_async_waits_through_pending_approval():
    t = FakeTransport(lambda r: [(0.01, PENDING), (0.3, DENY)])
    result = await async_client(t).gate(**ASK, timeout_ms=200, approval_timeout_ms=2000)
    assert result.verdict == "deny" and result.final


async def test_async_gates_concurrently():
    t = FakeTransport(lambda r: [(0.05, ALLOW if r["action"] == "read" else DENY)])
    client = async_client(t)
    results = await asyncio.gather(*(client.gate(**{**ASK, "action": a}) for a in ["read", "write"] * 5))
    assert [r.allowed for r in results] == [True, False] * 5
