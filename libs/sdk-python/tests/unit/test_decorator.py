import pytest

import warden
from warden import GateDenied, gated

from .fakes import ALLOW, DENY, FakeTransport, async_client, sync_client


def test_allow_runs_the_function_and_reports_its_outcome():
    t = FakeTransport(lambda r: [(0, ALLOW)])
    client = sync_client(t)

    @gated(tool="tickets", action="read", client=client, environment="prod")
    def read_ticket(ticket: int, verbose: bool = False):
        assert warden.current_decision().decision_token == "a.b.c"
        return {"ticket": ticket, "status": "open"}

    with warden.run("run-7"):
        assert read_ticket(42) == {"ticket": 42, "status": "open"}
    [request] = t.requests()
    assert request["arguments"] == {"ticket": 42, "verbose": False}
    assert request["runId"] == "run-7" and request["environment"] == "prod" and request["tool"] == "tickets"
    [(ce_type, outcome, _)] = t.outcomes()
    assert ce_type == "warden.gate.v1.StepCompleted"
    assert outcome["resultDigest"] == warden.digest({"ticket": 42, "status": "open"})
    assert warden.current_decision() is None


def test_deny_raises_with_the_reason_and_does_not_run():
    client = sync_client(FakeTransport(lambda r: [(0, DENY)]))
    ran = []

    @gated(tool="tickets", action="write", client=client)
    def write_ticket(ticket: int):
        ran.append(ticket)

    with pytest.raises(GateDenied) as denied:
        write_ticket(42)
    assert ran == [] and denied.value.verdict == "deny" and "outside the agent" in denied.value.reason
    assert "tickets.write" in str(denied.value) and isinstance(denied.value, PermissionError)


def test_no_decision_raises_too():
    client = sync_client(FakeTransport())

    @gated(tool="tickets", action="read", client=client, timeout_ms=100)
    def read_ticket(ticket: int):
        raise AssertionError("must not run")

    with pytest.raises(GateDenied) as denied:
        read_ticket(1)
    assert denied.value.result.timed_out


def test_an_exception_is_reported_as_failed_and_raised_again():
    t = FakeTransport(lambda r: [(0, ALLOW)])

    @gated(tool="tickets", action="read", client=sync_client(t))
    def read_ticket(ticket: int):
        raise ConnectionError("ticket system down")

    with pytest.raises(ConnectionError):
        read_ticket(1)
    [(ce_type, outcome, _)] = t.outcomes()
    assert ce_type == "warden.gate.v1.StepFailed" and "ticket system down" in outcome["error"]


def test_the_default_client_and_a_result_without_a_canonical_form():
    t = FakeTransport(lambda r: [(0, ALLOW)])
    warden.set_default_client(sync_client(t))
    try:

        @gated(tool="tickets", action="read")
        def read_ticket(**query):
            return object()

        read_ticket(ticket=1, page=2)
    finally:
        warden.set_default_client(None)
    assert t.requests()[0]["arguments"] == {"ticket": 1, "page": 2}
    assert t.outcomes()[0][1]["resultDigest"] == ""


def test_a_plain_function_needs_the_sync_client():
    @gated(tool="tickets", action="read", client=async_client(FakeTransport()))
    def read_ticket(ticket: int):
        pass

    with pytest.raises(TypeError):
        read_ticket(1)


async def test_a_coroutine_function_with_the_async_client():
    t = FakeTransport(lambda r: [(0, ALLOW if r["action"] == "read" else DENY)])
    client = async_client(t)

    @gated(tool="tickets", action="read", client=client)
    async def read_ticket(ticket: int):
        return {"ticket": ticket}

    @gated(tool="tickets", action="write", client=client)
    async def write_ticket(ticket: int):
        raise AssertionError("must not run")

    assert await read_ticket(5) == {"ticket": 5}
    with pytest.raises(GateDenied):
        await write_ticket(5)
    assert len(t.outcomes()) == 1
