"""A Python HTTP tool server guarded by ``warden.ToolVerifier`` against the real stack.

Run by test/e2e/tool-verifier.e2e.spec.ts, which starts the six services, registers the agent with
the ``tickets`` and ``files`` tools granted for ``read`` and a client secret, and passes their
addresses and two bearer tokens (a tenant auditor's to read the revocation list, an sre's to engage
a kill switch). Without that environment the tests are skipped. The tool server is the stdlib's
``wsgiref`` HTTP server running ``warden.wsgi_middleware``; the agent asks the real gate with the
SDK's client, then calls the tool over HTTP with the decision token in ``Warden-Decision-Token``.
"""

import json
import os
import threading
import time
import urllib.error
import urllib.request
from wsgiref.simple_server import WSGIRequestHandler, make_server

import pytest

import warden

NEEDED = (
    "WARDEN_BROKERS",
    "WARDEN_TOPIC_PREFIX",
    "WARDEN_REGISTRY_URL",
    "WARDEN_KILLSWITCH_URL",
    "WARDEN_AGENT_ID",
    "WARDEN_CLIENT_SECRET",
    "WARDEN_READER_AUTHORIZATION",
    "WARDEN_SRE_AUTHORIZATION",
)
pytestmark = pytest.mark.skipif(
    any(not os.environ.get(n) for n in NEEDED), reason="no stack (run by test/e2e/tool-verifier.e2e.spec.ts)"
)
RUN = f"run-py-tool-{int(time.time())}"


@pytest.fixture(scope="module")
def env():
    return os.environ


@pytest.fixture(scope="module")
def client(env):
    c = warden.WardenClient(
        brokers=env["WARDEN_BROKERS"],
        topic_prefix=env["WARDEN_TOPIC_PREFIX"],
        tenant_id=env.get("WARDEN_TENANT", "acme"),
        agent_id=env["WARDEN_AGENT_ID"],
        client_id="pytest-tool-server",
        default_timeout_ms=10_000,
        credentials=warden.AgentCredentials(
            registry_url=env["WARDEN_REGISTRY_URL"],
            agent_id=env["WARDEN_AGENT_ID"],
            client_secret=env["WARDEN_CLIENT_SECRET"],
        ),
    )
    yield c
    c.close()


@pytest.fixture(scope="module")
def tool(env):
    """The tickets tool: POST /<action> with the arguments as the JSON body."""
    verifier = warden.ToolVerifier(
        registry_url=env["WARDEN_REGISTRY_URL"],
        killswitch_url=env["WARDEN_KILLSWITCH_URL"],
        revocations_authorization=env["WARDEN_READER_AUTHORIZATION"],
        revocations_poll_ms=500,
    )

    def app(environ, start_response):
        arguments = json.loads(environ["wsgi.input"].read() or b"{}")
        body = json.dumps({"ticket": arguments.get("ticket"), "status": "open", "run": environ["warden.decision"]["run"]})
        start_response("200 OK", [("Content-Type", "application/json")])
        return [body.encode()]

    def describe(environ, body):
        return {"tool": "tickets", "action": environ["PATH_INFO"].strip("/"), "arguments": json.loads(body or b"{}")}

    class Quiet(WSGIRequestHandler):
        def log_message(self, *args):
            pass

    server = make_server("127.0.0.1", 0, warden.wsgi_middleware(app, verifier, describe), handler_class=Quiet)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def post(url, body, headers=None):
    req = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"content-type": "application/json", **(headers or {})}, method="POST"
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as res:
            return res.status, json.loads(res.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def allowed(client, tool, arguments):
    """The gate's allow for a read of ``tool`` (retried while the policy service learns the agent)."""
    deadline = time.monotonic() + 60
    while True:
        result = client.gate(run_id=RUN, tool=tool, action="read", arguments=arguments, environment="prod", estimated_tokens=10)
        if result.allowed or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert result.allowed, result.reason
    return result


def test_the_tool_accepts_the_gates_token_and_refuses_everything_else(client, tool, env):
    args = {"ticket": 42, "note": "customer asked twice"}
    result = allowed(client, "tickets", args)
    token = {"Warden-Decision-Token": result.decision_token}
    assert post(f"{tool}/read", args, token) == (200, {"ticket": 42, "status": "open", "run": RUN})

    status, body = post(f"{tool}/read", args)
    assert (status, body["code"]) == (401, "missing_token")
    status, body = post(f"{tool}/read", {**args, "ticket": 43}, token)
    assert (status, body["code"]) == (403, "digest_mismatch")
    status, body = post(f"{tool}/write", args, token)
    assert (status, body["code"]) == (403, "wrong_action")
    other = allowed(client, "files", args)
    status, body = post(f"{tool}/read", args, {"Warden-Decision-Token": other.decision_token})
    assert (status, body["code"]) == (403, "wrong_audience")
    tampered = result.decision_token[:-4] + ("AAAA" if not result.decision_token.endswith("AAAA") else "BBBB")
    status, body = post(f"{tool}/read", args, {"Warden-Decision-Token": tampered})
    assert (status, body["code"]) == (403, "bad_signature")

    # A kill switch on the run, engaged over the kill switch service's HTTP API, revokes the token.
    engaged = urllib.request.Request(
        f"{env['WARDEN_KILLSWITCH_URL']}/killswitches",
        data=json.dumps(
            {"scope": {"tenantId": env.get("WARDEN_TENANT", "acme"), "runId": RUN}, "reason": "python tool-side e2e"}
        ).encode(),
        headers={"content-type": "application/json", "authorization": env["WARDEN_SRE_AUTHORIZATION"]},
        method="POST",
    )
    with urllib.request.urlopen(engaged, timeout=30) as res:
        assert res.status == 201
    deadline = time.monotonic() + 30
    while True:
        status, body = post(f"{tool}/read", args, token)
        if status != 200 or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert (status, body["code"]) == (403, "revoked"), body
    assert "revoked by kill switch" in body["detail"]
