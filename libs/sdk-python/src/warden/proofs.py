"""Proofs of possession (docs/protocol.md, "Identity", "The request proof", "Outcomes").

An agent process holds an Ed25519 key. The registry binds its agent tokens to the key's RFC 7638
thumbprint from a DPoP proof (RFC 9449); every gate request carries a request proof and every
outcome an outcome proof: compact JWS by that key, with the public JWK in the header, over the
SHA-256 of the RFC 8785 form of the request's (or outcome's) fields.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
import uuid
from dataclasses import dataclass
from typing import Any, Mapping

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from .canonical import digest

__all__ = [
    "ProofKey",
    "b64url",
    "b64url_decode",
    "sign_jws",
    "dpop_proof",
    "jwk_thumbprint",
    "token_hash",
    "request_proof_input",
    "request_proof",
    "outcome_proof_input",
    "outcome_proof",
    "proof_digest",
    "short_enum",
    "verify_jws",
    "REQUEST_PROOF_TYP",
    "OUTCOME_PROOF_TYP",
    "DPOP_TYP",
]

REQUEST_PROOF_TYP = "warden-request+jwt"
OUTCOME_PROOF_TYP = "warden-outcome+jwt"
DPOP_TYP = "dpop+jwt"


def b64url(data: bytes | str) -> str:
    if isinstance(data, str):
        data = data.encode("utf-8")
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _compact(value: Any) -> str:
    """JSON as ECMAScript's JSON.stringify writes it (insertion order, no whitespace)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


@dataclass(frozen=True)
class ProofKey:
    """The key an agent process proves possession of. Made fresh per client; only its public JWK travels."""

    private_key: Ed25519PrivateKey

    @staticmethod
    def generate() -> "ProofKey":
        return ProofKey(Ed25519PrivateKey.generate())

    @staticmethod
    def from_jwk(jwk: Mapping[str, str]) -> "ProofKey":
        """From a private Ed25519 JWK (``{"kty":"OKP","crv":"Ed25519","x":..,"d":..}``)."""
        if jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519" or "d" not in jwk:
            raise ValueError("a proof key is a private Ed25519 JWK (kty OKP, crv Ed25519, d)")
        key = ProofKey(Ed25519PrivateKey.from_private_bytes(b64url_decode(jwk["d"])))
        if "x" in jwk and jwk["x"] != key.jwk["x"]:
            raise ValueError("the JWK's x is not the public key of its d")
        return key

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self.private_key.public_key()

    @property
    def jwk(self) -> dict[str, str]:
        """The public JWK, in the member order proofs carry it."""
        raw = self.public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return {"kty": "OKP", "crv": "Ed25519", "x": b64url(raw)}

    def private_jwk(self) -> dict[str, str]:
        raw = self.private_key.private_bytes(
            serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
        )
        return {**self.jwk, "d": b64url(raw)}

    @property
    def thumbprint(self) -> str:
        return jwk_thumbprint(self.jwk)


def jwk_thumbprint(jwk: Mapping[str, str]) -> str:
    """RFC 7638 thumbprint of an Ed25519 JWK (what an agent token's ``cnf.jkt`` holds)."""
    text = f'{{"crv":"Ed25519","kty":"OKP","x":"{jwk["x"]}"}}'
    return b64url(hashlib.sha256(text.encode("utf-8")).digest())


def token_hash(token: str) -> str:
    """base64url SHA-256 of an agent token (the proof input's ``agentTokenHash``)."""
    return b64url(hashlib.sha256(token.encode("utf-8")).digest())


def sign_jws(header: Mapping[str, Any], claims: Mapping[str, Any], key: ProofKey) -> str:
    """A compact JWS (EdDSA) of ``header`` and ``claims``, serialized in their member order."""
    signing_input = f"{b64url(_compact(dict(header)))}.{b64url(_compact(dict(claims)))}"
    return f"{signing_input}.{b64url(key.private_key.sign(signing_input.encode('ascii')))}"


def _proof(typ: str, claims: Mapping[str, Any], key: ProofKey) -> str:
    return sign_jws({"alg": "EdDSA", "typ": typ, "jwk": key.jwk}, claims, key)


def dpop_proof(key: ProofKey, url: str, now_ms: float | None = None, method: str = "POST") -> str:
    """A DPoP proof (RFC 9449) for a request to ``url`` (its query dropped)."""
    now = time.time() * 1000 if now_ms is None else now_ms
    claims = {"jti": str(uuid.uuid4()), "htm": method, "htu": url.split("?")[0], "iat": int(now // 1000)}
    return _proof(DPOP_TYP, claims, key)


def short_enum(value: Any, prefix: str) -> str:
    """An enum value as the proof input writes it: the short lower-case name, ``""`` when unset."""
    if value is None or value == "" or value == 0:
        return ""
    text = str(value)
    if text.upper().startswith(prefix):
        text = text[len(prefix) :]
    text = text.lower()
    return "" if text == "unspecified" else text


def proof_digest(value: Mapping[str, Any]) -> str:
    return digest(dict(value))


def request_proof_input(request: Mapping[str, Any]) -> dict[str, Any]:
    """The fields a request proof covers, from a protobuf-JSON GateRequested, with the defaults applied."""

    def s(name: str) -> str:
        return str(request.get(name) or "")

    request_id = s("requestId")
    step_id = s("stepId") or request_id
    cost = request.get("estimatedCost")
    token = s("agentToken")
    return {
        "requestId": request_id,
        "idempotencyKey": s("idempotencyKey") or f"{s('runId')}:{step_id}",
        "stepId": step_id,
        "attempt": request.get("attempt") or 1,
        "requestedAtMs": request.get("requestedAtMs") or 0,
        "deadlineMs": request.get("deadlineMs") or 0,
        "tenantId": s("tenantId"),
        "agentId": s("agentId"),
        "runId": s("runId"),
        "parentStepId": s("parentStepId"),
        "actionKind": short_enum(request.get("actionKind"), "ACTION_KIND_"),
        "tool": s("tool"),
        "action": s("action"),
        "argumentsDigest": s("argumentsDigest") or digest(request.get("arguments") or {}),
        "dataClasses": [short_enum(c, "DATA_CLASS_") for c in request.get("dataClasses") or []],
        "estimatedTokens": request.get("estimatedTokens") or 0,
        "estimatedCost": {"currency": cost.get("currency", ""), "micros": cost.get("micros", 0)} if cost else None,
        "onBehalfOf": s("onBehalfOf"),
        "environment": s("environment"),
        "model": s("model"),
        "memoryStore": s("memoryStore"),
        "memoryClass": short_enum(request.get("memoryClass"), "MEMORY_CLASS_"),
        "delegateToAgentId": s("delegateToAgentId"),
        "businessOutcome": s("businessOutcome"),
        "agentTokenHash": token_hash(token) if token else "",
    }


def request_proof(request: Mapping[str, Any], key: ProofKey) -> str:
    """The ``requestProof`` of a protobuf-JSON GateRequested."""
    claims = {
        "rid": request["requestId"],
        "req": proof_digest(request_proof_input(request)),
        "iat": int((request.get("requestedAtMs") or 0) // 1000),
    }
    return _proof(REQUEST_PROOF_TYP, claims, key)


def outcome_proof_input(outcome: Mapping[str, Any], status: str) -> dict[str, Any]:
    """The fields an outcome proof covers, from a protobuf-JSON StepCompleted (``completed``) or StepFailed (``failed``)."""
    if status not in ("completed", "failed"):
        raise ValueError("an outcome's status is completed or failed")
    completed = status == "completed"
    cost = outcome.get("actualCost")
    return {
        "status": status,
        "requestId": str(outcome.get("requestId") or ""),
        "tenantId": str(outcome.get("tenantId") or ""),
        "agentId": str(outcome.get("agentId") or ""),
        "runId": str(outcome.get("runId") or ""),
        "stepId": str(outcome.get("stepId") or ""),
        "idempotencyKey": str(outcome.get("idempotencyKey") or ""),
        "actualTokens": outcome.get("actualTokens") or 0,
        "actualCost": {"currency": cost.get("currency", ""), "micros": cost.get("micros", 0)} if cost else None,
        "durationMs": outcome.get("durationMs") or 0,
        "resultDigest": str(outcome.get("resultDigest") or "") if completed else "",
        "error": "" if completed else str(outcome.get("error") or ""),
        "retryable": False if completed else bool(outcome.get("retryable")),
    }


def outcome_proof(outcome: Mapping[str, Any], status: str, key: ProofKey) -> str:
    """The ``outcomeProof`` of a protobuf-JSON StepCompleted or StepFailed."""
    claims = {"rid": outcome["requestId"], "out": proof_digest(outcome_proof_input(outcome, status))}
    return _proof(OUTCOME_PROOF_TYP, claims, key)


def verify_jws(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Verifies a compact JWS signed by the Ed25519 JWK in its own header; returns (header, claims)."""
    h, p, sig = token.split(".")
    header = json.loads(b64url_decode(h))
    claims = json.loads(b64url_decode(p))
    jwk = header["jwk"]
    Ed25519PublicKey.from_public_bytes(b64url_decode(jwk["x"])).verify(b64url_decode(sig), f"{h}.{p}".encode("ascii"))
    return header, claims

