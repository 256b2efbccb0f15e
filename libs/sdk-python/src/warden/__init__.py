"""Warden's Python SDK: the agent side of the gate over Kafka (docs/protocol.md).

    import warden
    client = warden.WardenClient(brokers=..., tenant_id=..., agent_id=..., credentials=warden.AgentCredentials(...))
    result = client.gate(run_id="run-1", tool="tickets", action="read", arguments={"ticket": 42})
    if result.allowed:
        ...  # do the step, then
        client.report_outcome(result, result={"status": "open"})
"""

from .aio import AsyncWardenClient
from .canonical import CanonicalJsonError, arguments_digest, canonical_json, digest
from .client import WardenClient
from .decorator import GateDenied, current_decision, current_run_id, gated, run, set_default_client
from .kafka import KafkaSecurity, WardenError
from .proofs import ProofKey, dpop_proof, jwk_thumbprint, outcome_proof, request_proof
from .tokens import AgentCredentials, AgentTokenSource, TokenError
from .topics import partition_of, reply_topic
from .verifier import DECISION_TOKEN_HEADER, DecisionTokenError, ToolVerifier, decision_token_of, wsgi_middleware
from .wire import GateResult, RequestIds

__all__ = [
    "DECISION_TOKEN_HEADER",
    "AgentCredentials",
    "AgentTokenSource",
    "AsyncWardenClient",
    "CanonicalJsonError",
    "DecisionTokenError",
    "GateDenied",
    "GateResult",
    "KafkaSecurity",
    "ProofKey",
    "RequestIds",
    "TokenError",
    "ToolVerifier",
    "WardenClient",
    "WardenError",
    "arguments_digest",
    "canonical_json",
    "current_decision",
    "current_run_id",
    "decision_token_of",
    "digest",
    "dpop_proof",
    "gated",
    "jwk_thumbprint",
    "outcome_proof",
    "partition_of",
    "reply_topic",
    "request_proof",
    "run",
    "set_default_client",
    "wsgi_middleware",
]

__version__ = "0.1.0"
