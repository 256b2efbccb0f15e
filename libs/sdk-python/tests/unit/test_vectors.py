"""Every vector of docs/protocol-vectors.json."""

import json

import pytest

from warden import ProofKey, canonical_json, digest, jwk_thumbprint
from warden.proofs import (
    outcome_proof,
    outcome_proof_input,
    proof_digest,
    request_proof,
    request_proof_input,
    token_hash,
    verify_jws,
)
from warden.topics import murmur2, partition_of, reply_topic


def test_canonical_json(vectors):
    for v in vectors["canonicalJson"]["vectors"]:
        assert canonical_json(json.loads(v["input"])) == v["canonical"]


def test_arguments_digest(vectors):
    for v in vectors["argumentsDigest"]["vectors"]:
        assert digest(v["arguments"]) == v["digest"]


def test_partition(vectors):
    for v in vectors["partition"]["vectors"]:
        assert murmur2(v["key"].encode("utf-8")) == v["murmur2"]
        assert partition_of(v["key"], v["partitions"]) == v["partition"]


def test_reply_topic(vectors):
    for v in vectors["replyTopic"]["vectors"]:
        assert reply_topic(v["tenant"], v["agent"]) == v["topic"]
        assert reply_topic(v["tenant"], v["agent"], "warden.") == "warden." + v["topic"]


def test_proof_key_thumbprint(vectors):
    key = ProofKey.from_jwk(vectors["proofKey"]["jwk"])
    assert key.jwk == {k: vectors["proofKey"]["jwk"][k] for k in ("kty", "crv", "x")}
    assert jwk_thumbprint(key.jwk) == key.thumbprint == vectors["proofKey"]["thumbprint"]


def test_request_proof(vectors):
    v = vectors["requestProof"]
    key = ProofKey.from_jwk(vectors["proofKey"]["jwk"])
    assert token_hash(v["request"]["agentToken"]) == v["agentTokenHash"]
    assert canonical_json(request_proof_input(v["request"])) == v["proofInput"]
    assert proof_digest(request_proof_input(v["request"])) == v["digest"]
    assert request_proof(v["request"], key) == v["proof"]
    header, claims = verify_jws(v["proof"])
    assert header == {"alg": "EdDSA", "typ": "warden-request+jwt", "jwk": key.jwk}
    assert claims == {"rid": v["request"]["requestId"], "req": v["digest"], "iat": 1764806400}


def test_outcome_proof(vectors):
    v = vectors["outcomeProof"]
    key = ProofKey.from_jwk(vectors["proofKey"]["jwk"])
    assert canonical_json(outcome_proof_input(v["outcome"], "completed")) == v["proofInput"]
    assert proof_digest(outcome_proof_input(v["outcome"], "completed")) == v["digest"]
    assert outcome_proof(v["outcome"], "completed", key) == v["proof"]


def test_a_wrong_jwk_is_refused(vectors):
    jwk = dict(vectors["proofKey"]["jwk"])
    jwk["x"] = ProofKey.generate().jwk["x"]
    with pytest.raises(ValueError):
        ProofKey.from_jwk(jwk)
