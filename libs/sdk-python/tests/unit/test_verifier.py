"""The tool verifier against a local JWKS and revocation list over real HTTP, with decision tokens
signed here by keys generated here, in the policy service's format (ADR 0009)."""

import json
import threading
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, HTTPServer
from wsgiref.simple_server import WSGIRequestHandler, make_server

import pytest

import warden
from warden import DecisionTokenError, ToolVerifier, wsgi_middleware
from warden.proofs import ProofKey, b64url, sign_jws

ARGS = {"ticket": 42, "note": "customer asked twice"}
T0 = 1_700_000_000_000


class Warden:
    """The registry's JWKS and the kill switch service's revocation list, as one local server."""

    def __init__(self):
        self.keys = {"dt-1": ProofKey.generate(), "agent-1": ProofKey.generate()}
        self.published = ["dt-1"]
        self.revocations = []
        self.status = 200
        self.requests = []
        warden_ = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                warden_.requests.append((self.path, dict(self.headers)))
                extra = {}
                if self.path == "/.well-known/jwks.json":
                    jwk = lambda kid, use: {**warden_.keys[kid].jwk, "kid": kid, "alg": "EdDSA", "warden_use": use}  # noqa: E731
                    body = {"keys": [jwk(k, "decision_token") for k in warden_.published] + [jwk("agent-1", "agent_token")]}
                    status = 200
                elif self.path.startswith("/revocations"):
                    query = urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query)
                    since = int(query.get("since", ["0"])[0])
                    listed = [r for r in warden_.revocations if r["revokedAtMs"] >= since]
                    extra["etag"] = '"' + ",".join(r["switchId"] for r in listed) + '"'
                    latest = max([0] + [r["revokedAtMs"] for r in listed])
                    body = {"revocations": listed, "latestRevokedAtMs": latest}
                    status = warden_.status
                    if status == 200 and self.headers.get("if-none-match") == extra["etag"]:
                        status, body = 304, None
                else:
                    status, body = 404, {}
                data = b"" if body is None else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                for k, v in extra.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}"

    def token(self, kid="dt-1", now=T0, **over):
        claims = {
            "iss": "warden-policy",
            "aud": "tickets",
            "sub": "tool-bot",
            "tenant": "acme",
            "act": "read",
            "args": warden.digest(ARGS),
            "rid": "r-1",
            "run": "run-1",
            "jti": "d-1",
            "iat": now // 1000,
            "exp": now // 1000 + 60,
            **over,
        }
        return sign_jws({"alg": "EdDSA", "kid": kid, "typ": "JWT"}, claims, self.keys[kid])

    def reads(self, prefix):
        return [p for p, _ in self.requests if p.startswith(prefix)]


@pytest.fixture
def stack():
    w = Warden()
    yield w
    w.server.shutdown()


class Clock:
    def __init__(self):
        self.now = T0

    def __call__(self):
        return self.now


@pytest.fixture
def clock():
    return Clock()


def make(stack, clock, **extra):
    return ToolVerifier(
        registry_url=stack.url,
        killswitch_url=stack.url,
        revocations_authorization="Bearer reader",
        clock=clock,
        **extra,
    )


CALL = dict(tool="tickets", action="read", arguments=ARGS)


def refusal(fn):
    with pytest.raises(DecisionTokenError) as e:
        fn()
    return e.value.code


def test_accepts_a_valid_token_and_returns_its_claims(stack, clock):
    v = make(stack, clock)
    assert v.verify_decision_token(stack.token(), **CALL)["rid"] == "r-1"
    # Key order and 42 vs 42.0 do not matter: the digest is RFC 8785's.
    v.verify_decision_token(stack.token(), **{**CALL, "arguments": {"note": "customer asked twice", "ticket": 42.0}})
    assert dict(stack.requests)["/revocations"]["Authorization"] == "Bearer reader"


def test_refuses_a_missing_malformed_or_tampered_token(stack, clock):
    v = make(stack, clock)
    assert refusal(lambda: v.verify_decision_token(None, **CALL)) == "missing_token"
    assert refusal(lambda: v.verify_decision_token("", **CALL)) == "missing_token"
    assert refusal(lambda: v.verify_decision_token("not-a-jwt", **CALL)) == "malformed_token"
    h, _, s = stack.token().split(".")
    other = stack.token(act="write").split(".")[1]
    assert refusal(lambda: v.verify_decision_token(f"{h}.{other}.{s}", **CALL)) == "bad_signature"
    unsigned = b64url(json.dumps({"alg": "none", "kid": "dt-1"}))
    assert refusal(lambda: v.verify_decision_token(f"{unsigned}.{other}.{s}", **CALL)) == "malformed_token"


def test_refuses_another_issuer_tool_action_arguments_or_request(stack, clock):
    v = make(stack, clock)
    assert refusal(lambda: v.verify_decision_token(stack.token(iss="someone"), **CALL)) == "wrong_issuer"
    assert refusal(lambda: v.verify_decision_token(stack.token(aud="files"), **CALL)) == "wrong_audience"
    assert refusal(lambda: v.verify_decision_token(stack.token(act="write"), **CALL)) == "wrong_action"
    changed = {**CALL, "arguments": {**ARGS, "ticket": 43}}
    assert refusal(lambda: v.verify_decision_token(stack.token(), **changed)) == "digest_mismatch"
    inexact = {**CALL, "arguments": {"ticket": 2**60}}
    assert refusal(lambda: v.verify_decision_token(stack.token(), **inexact)) == "digest_mismatch"
    assert refusal(lambda: v.verify_decision_token(stack.token(), request_id="r-2", **CALL)) == "wrong_request"
    v.verify_decision_token(stack.token(), request_id="r-1", **CALL)


def test_refuses_an_expired_token_with_the_configured_leeway(stack, clock):
    token = stack.token(exp=T0 // 1000 - 3)
    make(stack, clock).verify_decision_token(token, **CALL)
    assert refusal(lambda: make(stack, clock, clock_skew_s=0).verify_decision_token(token, **CALL)) == "expired"
    assert refusal(lambda: make(stack, clock).verify_decision_token(stack.token(exp=T0 // 1000 - 6), **CALL)) == "expired"
    future = stack.token(iat=T0 // 1000 + 60)
    assert refusal(lambda: make(stack, clock).verify_decision_token(future, **CALL)) == "not_yet_valid"


def test_reads_the_jwks_again_for_an_unknown_kid_at_most_every_min_refresh(stack, clock):
    v = make(stack, clock)
    v.verify_decision_token(stack.token(), **CALL)
    stack.keys["dt-2"] = ProofKey.generate()
    clock.now += 11_000
    assert refusal(lambda: v.verify_decision_token(stack.token("dt-2", clock.now), **CALL)) == "unknown_key"
    assert len(stack.reads("/.well-known")) == 2
    stack.published = ["dt-1", "dt-2"]
    assert refusal(lambda: v.verify_decision_token(stack.token("dt-2", clock.now), **CALL)) == "unknown_key"
    assert len(stack.reads("/.well-known")) == 2
    clock.now += 10_000
    v.verify_decision_token(stack.token("dt-2", clock.now), **CALL)
    assert len(stack.reads("/.well-known")) == 3
    # An agent-token key of the same JWKS verifies no decision token.
    assert refusal(lambda: v.verify_decision_token(stack.token("agent-1", clock.now), **CALL)) == "unknown_key"


def test_refuses_a_revoked_token_polling_with_since_and_if_none_match(stack, clock):
    v = make(stack, clock, revocations_poll_ms=1000)
    token = stack.token()
    v.verify_decision_token(token, **CALL)
    scope = {"tenantId": "acme", "agentId": "", "runId": "", "tool": ""}
    stack.revocations = [
        {"switchId": "ks-other", "scope": {**scope, "agentId": "other-bot"}, "issuedBeforeMs": T0 + 500, "revokedAtMs": T0 + 500}
    ]
    clock.now += 1000
    v.verify_decision_token(token, **CALL)
    stack.revocations.insert(
        0, {"switchId": "ks-run", "scope": {**scope, "runId": "run-1"}, "issuedBeforeMs": T0 + 1500, "revokedAtMs": T0 + 1500}
    )
    v.verify_decision_token(token, **CALL)  # within the poll interval: not read again
    clock.now += 1000
    assert refusal(lambda: v.verify_decision_token(token, **CALL)) == "revoked"
    # A token issued after the revocation is not void.
    v.verify_decision_token(stack.token(now=T0 + 3000), **CALL)
    assert stack.reads("/revocations") == ["/revocations", "/revocations", f"/revocations?since={T0 + 500}"]
    clock.now += 1000
    assert refusal(lambda: v.verify_decision_token(token, **CALL)) == "revoked"
    assert stack.requests[-1][1]["If-None-Match"] == '"ks-run,ks-other"'


def test_a_not_modified_list_keeps_what_it_holds(stack, clock):
    v = make(stack, clock, revocations_poll_ms=1000)
    stack.revocations = [
        {"switchId": "ks-1", "scope": {"tenantId": "acme", "agentId": "", "runId": "", "tool": ""}, "issuedBeforeMs": T0 + 1, "revokedAtMs": T0 + 1}
    ]
    token = stack.token()
    assert refusal(lambda: v.verify_decision_token(token, **CALL)) == "revoked"
    clock.now += 1000
    assert refusal(lambda: v.verify_decision_token(token, **CALL)) == "revoked"
    assert stack.reads("/revocations")[-1] == f"/revocations?since={T0 + 1}"


def test_fails_closed_when_the_list_cannot_be_read_for_max_stale(stack, clock):
    v = make(stack, clock, revocations_poll_ms=1000, revocations_max_stale_ms=5000)
    token = stack.token(exp=T0 // 1000 + 600)
    v.verify_decision_token(token, **CALL)
    stack.status = 500
    clock.now += 2000
    v.verify_decision_token(token, **CALL)
    clock.now += 4000
    assert refusal(lambda: v.verify_decision_token(token, **CALL)) == "revocations_unavailable"
    assert refusal(lambda: make(stack, clock).verify_decision_token(token, **CALL)) == "revocations_unavailable"


def test_one_time_use_refuses_a_second_use(stack, clock):
    v = make(stack, clock, one_time_use=True)
    token = stack.token()
    v.verify_decision_token(token, **CALL)
    assert refusal(lambda: v.verify_decision_token(token, **CALL)) == "replayed"
    make(stack, clock).verify_decision_token(token, **CALL)


def test_the_decorator_runs_the_function_only_with_a_valid_token(stack, clock):
    v = make(stack, clock)
    ran = []

    @v.guarded(tool="tickets", action="read")
    def read_ticket(ticket, note):
        ran.append(ticket)
        return {"ticket": ticket, "status": "open"}

    assert read_ticket(decision_token=stack.token(), **ARGS) == {"ticket": 42, "status": "open"}
    with pytest.raises(DecisionTokenError) as e:
        read_ticket(decision_token=stack.token(), ticket=43, note="customer asked twice")
    assert e.value.code == "digest_mismatch" and e.value.status == 403
    with pytest.raises(DecisionTokenError, match="missing_token"):
        read_ticket(**ARGS)
    assert ran == [42]


def test_the_wsgi_middleware_guards_a_real_http_server(stack, clock):
    v = make(stack, clock)
    seen = []

    def app(environ, start_response):
        body = environ["wsgi.input"].read()
        seen.append((environ["warden.decision"]["rid"], json.loads(body)))
        start_response("200 OK", [("Content-Type", "application/json")])
        return [b'{"status":"open"}']

    describe = lambda environ, body: {"tool": "tickets", "action": "read", "arguments": json.loads(body or b"{}")}  # noqa: E731

    class Quiet(WSGIRequestHandler):
        def log_message(self, *args):
            pass

    server = make_server("127.0.0.1", 0, wsgi_middleware(app, v, describe), handler_class=Quiet)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}/"

    def post(headers, body):
        req = urllib.request.Request(url, data=json.dumps(body).encode(), headers=headers, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=5) as res:
                return res.status, res.headers["content-type"], json.loads(res.read())
        except urllib.error.HTTPError as e:
            return e.code, e.headers["content-type"], json.loads(e.read())

    try:
        status, _, body = post({}, ARGS)
        assert status == 401 and body["code"] == "missing_token"
        status, ctype, body = post({"Warden-Decision-Token": stack.token()}, {**ARGS, "ticket": 1})
        assert (status, ctype, body["code"]) == (403, "application/problem+json", "digest_mismatch")
        assert post({"Authorization": f"Bearer {stack.token()}"}, ARGS) == (200, "application/json", {"status": "open"})
        assert seen == [("r-1", ARGS)]
    finally:
        server.shutdown()
