"""Agent credentials and agent tokens (docs/protocol.md, "Identity: an agent token bound to a key").

The token source asks the registry's ``POST /oauth/token`` (OAuth 2.0 client credentials, with a
client secret or a ``private_key_jwt`` assertion) with a DPoP proof by the client's key, and keeps
one token fresh: it asks again 30 s before expiry (or at half its lifetime for short ones).
Concurrent callers share one request. Any failure raises: the client then fails closed.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass, field
from typing import Callable, Mapping, Optional

from .proofs import ProofKey, dpop_proof, sign_jws

__all__ = ["AgentCredentials", "AgentTokenSource", "TokenError"]

REFRESH_MARGIN_MS = 30_000
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


class TokenError(RuntimeError):
    """The registry did not issue an agent token."""


@dataclass(frozen=True)
class AgentCredentials:
    """How an agent proves who it is to the registry: one of its registered credentials.

    ``client_secret`` as returned once by ``POST /agents/:id/credentials {kind: "client_secret"}``;
    or ``private_key`` (a private Ed25519 JWK) with ``credential_id``, registered as
    ``{kind: "public_key", publicJwk}``, for ``private_key_jwt``.
    """

    registry_url: str
    agent_id: str
    client_secret: Optional[str] = field(default=None, repr=False)
    private_key: Optional[Mapping[str, str]] = field(default=None, repr=False)
    credential_id: Optional[str] = None

    def __post_init__(self) -> None:
        if not self.client_secret and not self.private_key:
            raise ValueError("agent credentials need a client_secret or a private_key")
        if self.private_key and not self.credential_id:
            raise ValueError("a private_key credential needs its credential_id (the JWS kid)")

    @property
    def token_url(self) -> str:
        return self.registry_url.rstrip("/") + "/oauth/token"


class AgentTokenSource:
    """Obtains agent tokens bound to ``key`` and keeps one fresh (thread-safe)."""

    def __init__(
        self,
        credentials: AgentCredentials,
        key: ProofKey,
        clock: Callable[[], float] = lambda: time.time() * 1000,
        timeout_s: float = 5.0,
    ) -> None:
        self.credentials = credentials
        self.key = key
        self._clock = clock
        self._timeout_s = timeout_s
        self._lock = threading.Lock()
        self._token: Optional[str] = None
        self._refresh_at = 0.0

    def token(self) -> str:
        with self._lock:
            if self._token is not None and self._clock() < self._refresh_at:
                return self._token
            return self._fetch()

    def invalidate(self) -> None:
        """Forget the current token: the next call asks the registry again."""
        with self._lock:
            self._token = None

    def _assertion(self, now_ms: float) -> str:
        c = self.credentials
        assert c.private_key is not None
        now = int(now_ms // 1000)
        return sign_jws(
            {"alg": "EdDSA", "kid": c.credential_id, "typ": "JWT"},
            {
                "iss": c.agent_id,
                "sub": c.agent_id,
                "aud": "warden-registry",
                "iat": now,
                "exp": now + 60,
                "jti": str(uuid.uuid4()),
            },
            ProofKey.from_jwk(c.private_key),
        )

    def _fetch(self) -> str:
        c = self.credentials
        started = self._clock()
        form = {"grant_type": "client_credentials", "client_id": c.agent_id}
        if c.private_key:
            form["client_assertion_type"] = ASSERTION_TYPE
            form["client_assertion"] = self._assertion(started)
        else:
            form["client_secret"] = c.client_secret or ""
        url = c.token_url
        request = urllib.request.Request(
            url,
            data=urllib.parse.urlencode(form).encode("ascii"),
            method="POST",
            headers={
                "content-type": "application/x-www-form-urlencoded",
                "accept": "application/json",
                "dpop": dpop_proof(self.key, url, started),
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=self._timeout_s) as response:
                status, text = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, text = error.code, error.read()
        except (urllib.error.URLError, OSError) as error:
            raise TokenError(f"the token endpoint {url} could not be reached: {error}") from error
        try:
            body = json.loads(text or b"{}")
        except ValueError:
            body = {}
        token, expires_in = body.get("access_token"), body.get("expires_in")
        if status != 200 or not token or not expires_in:
            detail = body.get("detail") or body.get("error_description") or body.get("error") or "no token"
            raise TokenError(f"token endpoint answered {status}: {detail}")
        lifetime = float(expires_in) * 1000
        self._token = str(token)
        self._refresh_at = started + max(lifetime - REFRESH_MARGIN_MS, lifetime / 2)
        return self._token
