"""The token source against a local token endpoint that checks what the registry checks."""

import json
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from warden import AgentCredentials, AgentTokenSource, KafkaSecurity, ProofKey, TokenError
from warden.proofs import verify_jws


class Registry:
    def __init__(self):
        self.calls = []
        self.status = 200
        self.expires_in = 300
        registry = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                form = dict(urllib.parse.parse_qsl(self.rfile.read(int(self.headers["content-length"])).decode()))
                registry.calls.append((self.path, dict(self.headers), form))
                body = (
                    {"access_token": f"token-{len(registry.calls)}", "token_type": "DPoP", "expires_in": registry.expires_in}
                    if registry.status == 200
                    else {"detail": "invalid_client"}
                )
                data = json.dumps(body).encode()
                self.send_response(registry.status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}"


@pytest.fixture
def registry():
    r = Registry()
    yield r
    r.server.shutdown()


def test_client_secret_with_a_dpop_proof_bound_to_the_key(registry):
    key = ProofKey.generate()
    source = AgentTokenSource(AgentCredentials(registry_url=registry.url + "/", agent_id="bot", client_secret="c.s"), key)
    assert source.token() == "token-1"
    path, headers, form = registry.calls[0]
    assert path == "/oauth/token"
    assert form == {"grant_type": "client_credentials", "client_id": "bot", "client_secret": "c.s"}
    header, claims = verify_jws(headers["dpop"] if "dpop" in headers else headers["Dpop"])
    assert header["typ"] == "dpop+jwt" and header["jwk"] == key.jwk
    assert claims["htu"] == registry.url + "/oauth/token" and claims["htm"] == "POST"


def test_a_token_is_kept_until_near_its_expiry(registry):
    now = [1_000_000.0]
    source = AgentTokenSource(
        AgentCredentials(registry_url=registry.url, agent_id="bot", client_secret="s"), ProofKey.generate(), clock=lambda: now[0]
    )
    assert source.token() == source.token() == "token-1"
    now[0] += 269_000  # 300 s lifetime, refreshed 30 s before
    assert source.token() == "token-1"
    now[0] += 2_000
    assert source.token() == "token-2"


def test_private_key_jwt(registry):
    agent_key = ProofKey.generate()
    credentials = AgentCredentials(
        registry_url=registry.url, agent_id="bot", private_key=agent_key.private_jwk(), credential_id="cred-1"
    )
    AgentTokenSource(credentials, ProofKey.generate()).token()
    _, _, form = registry.calls[0]
    assert form["client_assertion_type"] == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    assert "client_secret" not in form
    h, p, _ = form["client_assertion"].split(".")
    from warden.proofs import b64url_decode

    assert json.loads(b64url_decode(h)) == {"alg": "EdDSA", "kid": "cred-1", "typ": "JWT"}
    claims = json.loads(b64url_decode(p))
    assert claims["iss"] == claims["sub"] == "bot" and claims["aud"] == "warden-registry"
    assert claims["exp"] - claims["iat"] == 60 and claims["jti"]


def test_a_refusal_raises(registry):
    registry.status = 401
    source = AgentTokenSource(AgentCredentials(registry_url=registry.url, agent_id="bot", client_secret="s"), ProofKey.generate())
    with pytest.raises(TokenError, match="401: invalid_client"):
        source.token()


def test_an_unreachable_registry_raises():
    source = AgentTokenSource(AgentCredentials(registry_url="http://127.0.0.1:9", agent_id="bot", client_secret="s"), ProofKey.generate())
    with pytest.raises(TokenError, match="could not be reached"):
        source.token()


def test_credentials_need_a_secret_or_a_key():
    with pytest.raises(ValueError):
        AgentCredentials(registry_url="http://x", agent_id="bot")
    with pytest.raises(ValueError):
        AgentCredentials(registry_url="http://x", agent_id="bot", private_key={"kty": "OKP"})


def test_kafka_security_from_the_services_variables():
    assert KafkaSecurity.from_env({}).librdkafka() == {"security.protocol": "PLAINTEXT"}
    sec = KafkaSecurity.from_env(
        {
            "KAFKA_SSL": "true",
            "KAFKA_SSL_CA_FILE": "/ca.pem",
            "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
            "KAFKA_SASL_USERNAME": "agent-bot",
            "KAFKA_SASL_PASSWORD": "pw",
        }
    )
    assert sec.librdkafka() == {
        "security.protocol": "SASL_SSL",
        "ssl.ca.location": "/ca.pem",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": "agent-bot",
        "sasl.password": "pw",
    }
    assert KafkaSecurity(sasl_mechanism="plain", sasl_username="u").librdkafka()["security.protocol"] == "SASL_PLAINTEXT"
    assert KafkaSecurity(ssl=True).librdkafka() == {"security.protocol": "SSL"}
    for bad in [dict(ssl_ca_file="/x"), dict(sasl_mechanism="gssapi", sasl_username="u"), dict(sasl_mechanism="plain"), dict(sasl_username="u")]:
        with pytest.raises(ValueError):
            KafkaSecurity(**bad)
