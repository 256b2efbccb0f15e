"""DPoP and request proofs, shaped as docs/protocol.md says."""

import time

from warden import ProofKey, dpop_proof
from warden.canonical import digest
from warden.proofs import proof_digest, request_proof_input, token_hash, verify_jws
from warden.wire import build_request


def test_a_dpop_proof_is_an_eddsa_jws_with_the_public_jwk_and_the_rfc_9449_claims():
    key = ProofKey.generate()
    before = int(time.time())
    proof = dpop_proof(key, "http://127.0.0.1:7101/oauth/token?x=1")
    header, claims = verify_jws(proof)
    assert header == {"alg": "EdDSA", "typ": "dpop+jwt", "jwk": key.jwk}
    assert "d" not in header["jwk"]
    assert set(claims) == {"jti", "htm", "htu", "iat"}
    assert claims["htm"] == "POST"
    assert claims["htu"] == "http://127.0.0.1:7101/oauth/token"
    assert before <= claims["iat"] <= int(time.time())
    assert dpop_proof(key, "http://x/oauth/token").split(".")[1] != proof.split(".")[1]  # a fresh jti each time


def test_a_built_request_is_proved_over_its_fields_with_the_defaults_applied():
    key = ProofKey.generate()
    request = build_request(
        request_id="r-1",
        tenant_id="acme",
        agent_id="invoice-bot",
        run_id="run-1",
        now_ms=1764806400123,
        timeout_ms=5000,
        tool="tickets",
        action="read",
        arguments={"ticket": 42},
        data_classes=["internal"],
        estimated_cost={"currency": "EUR", "micros": 1500},
        agent_token="tok",
        proof_key=key,
    )
    header, claims = verify_jws(request["requestProof"])
    assert header["typ"] == "warden-request+jwt" and header["jwk"] == key.jwk
    assert claims["rid"] == "r-1"
    assert claims["iat"] == 1764806400
    # What the gate recomputes from the request it decodes (the enum names short, the token hashed):
    gate_view = {k: v for k, v in request.items() if k != "requestProof"}
    expected = request_proof_input(gate_view)
    assert expected["stepId"] == "r-1" and expected["idempotencyKey"] == "run-1:r-1" and expected["attempt"] == 1
    assert expected["actionKind"] == "tool_call" and expected["dataClasses"] == ["internal"]
    assert expected["estimatedCost"] == {"currency": "EUR", "micros": 1500}
    assert expected["argumentsDigest"] == digest({"ticket": 42})
    assert expected["agentTokenHash"] == token_hash("tok")
    assert claims["req"] == proof_digest(expected)


def test_a_request_without_a_token_carries_no_proof():
    request = build_request(
        request_id="r-2", tenant_id="a", agent_id="b", run_id="c", now_ms=1, timeout_ms=10, proof_key=ProofKey.generate()
    )
    assert "requestProof" not in request and "agentToken" not in request
