"""Tool-side enforcement (docs/protocol.md, "The decision token"; ADR 0120).

A tool's own server checks the decision token of every call it receives and refuses the call
without a valid one, so an agent that skips the gate gets nothing. The token must verify with a
live decision-token key of the registry's JWKS, come from ``warden-policy``, name this tool
(``aud``) and action (``act``), bind the digest of the very arguments received (``args``), be
unexpired, and not be revoked by a kill switch (the kill switch service's ``GET /revocations``).

    verifier = warden.ToolVerifier(registry_url=..., killswitch_url=..., revocations_authorization="Bearer ...")
    claims = verifier.verify_decision_token(token, tool="tickets", action="read", arguments=args)

``wsgi_middleware`` guards a WSGI app; ``ToolVerifier.guarded`` a tool function.
"""

from __future__ import annotations

import functools
import io
import json
import re
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Callable, Iterable, Mapping, Optional, Union

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from .canonical import CanonicalJsonError, digest
from .proofs import b64url_decode

__all__ = [
    "DECISION_TOKEN_HEADER",
    "DecisionTokenError",
    "REFUSAL_STATUS",
    "ToolVerifier",
    "decision_token_of",
    "is_revoked",
    "wsgi_middleware",
]

REFUSAL_STATUS = {
    "missing_token": 401,
    "malformed_token": 401,
    "unknown_key": 403,
    "bad_signature": 403,
    "wrong_issuer": 403,
    "wrong_audience": 403,
    "wrong_action": 403,
    "digest_mismatch": 403,
    "wrong_request": 403,
    "expired": 403,
    "not_yet_valid": 403,
    "revoked": 403,
    "replayed": 403,
    "jwks_unavailable": 503,
    "revocations_unavailable": 503,
}
"""The HTTP status of each refusal: 401 without a (readable) token, 503 when Warden cannot be asked, else 403."""

DECISION_TOKEN_HEADER = "Warden-Decision-Token"
"""The HTTP header a call carries its decision token in (or ``Authorization: Bearer <token>``)."""

MAX_TOKEN_LIFETIME_MS = 3_600_000
_JWS = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$")


class DecisionTokenError(PermissionError):
    """A refused call: ``code`` says why (``missing_token``, ``wrong_audience``, ``revoked``...), ``detail`` in words."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"decision token refused ({code}): {detail}")
        self.code = code
        self.detail = detail
        self.status = REFUSAL_STATUS[code]

    def problem(self) -> dict[str, Any]:
        """The application/problem+json body of the refusal."""
        return {"title": "decision token refused", "status": self.status, "code": self.code, "detail": self.detail}


def is_revoked(revocations: Iterable[Mapping[str, Any]], claims: Mapping[str, Any]) -> Optional[Mapping[str, Any]]:
    """ADR 0053: the revocation voiding a token issued before it (``iat*1000 < issuedBeforeMs``) whose
    claims match every scope field that is set (``tenant``, ``sub``, ``run``, ``aud``); else None."""
    for r in revocations:
        s = r.get("scope") or {}
        if (
            claims["iat"] * 1000 < r.get("issuedBeforeMs", 0)
            and (not s.get("tenantId") or s["tenantId"] == claims["tenant"])
            and (not s.get("agentId") or s["agentId"] == claims["sub"])
            and (not s.get("runId") or s["runId"] == claims["run"])
            and (not s.get("tool") or s["tool"] == claims["aud"])
        ):
            return r
    return None


class ToolVerifier:
    """Verifies decision tokens for a tool server (thread-safe; one per process).

    It caches the JWKS (read again for an unknown kid at most every ``jwks_min_refresh_ms``, and after
    ``jwks_max_age_ms``), polls the revocation list at verification time at most every
    ``revocations_poll_ms`` (with ``since`` and ``If-None-Match``), and refuses every call when the
    list could not be read for ``revocations_max_stale_ms`` (fail closed). With ``one_time_use`` a
    decision is accepted once (its ``jti`` is held until it expires).
    """

    def __init__(
        self,
        registry_url: str,
        killswitch_url: str,
        revocations_authorization: Union[str, Callable[[], str], None] = None,
        issuer: str = "warden-policy",
        clock_skew_s: float = 5,
        one_time_use: bool = False,
        revocations_poll_ms: int = 2000,
        revocations_max_stale_ms: int = 30_000,
        jwks_min_refresh_ms: int = 10_000,
        jwks_max_age_ms: int = 300_000,
        max_replay_entries: int = 100_000,
        clock: Callable[[], float] = lambda: time.time() * 1000,
        timeout_s: float = 5.0,
    ) -> None:
        if not registry_url:
            raise ValueError("ToolVerifier needs the registry_url (the JWKS)")
        if not killswitch_url:
            raise ValueError("ToolVerifier needs the killswitch_url (the revocation list)")
        self.registry_url = registry_url.rstrip("/")
        self.killswitch_url = killswitch_url.rstrip("/")
        self._authorization = revocations_authorization
        self.issuer = issuer
        self.clock_skew_s = clock_skew_s
        self.one_time_use = one_time_use
        self._poll_ms = revocations_poll_ms
        self._max_stale_ms = revocations_max_stale_ms
        self._jwks_min_refresh_ms = jwks_min_refresh_ms
        self._jwks_max_age_ms = jwks_max_age_ms
        self._max_replay = max_replay_entries
        self._clock = clock
        self._timeout_s = timeout_s
        self._keys_lock = threading.Lock()
        self._keys: dict[str, Ed25519PublicKey] = {}
        self._keys_read_at = float("-inf")
        self._revocations_lock = threading.Lock()
        self._revocations: dict[str, Mapping[str, Any]] = {}
        self._revocations_read_at = float("-inf")
        self._latest_revoked_at_ms = 0
        self._etag: Optional[str] = None
        self._seen_lock = threading.Lock()
        self._seen: dict[str, float] = {}

    def verify_decision_token(
        self,
        token: Optional[str],
        *,
        tool: str,
        action: str,
        arguments: Any,
        request_id: Optional[str] = None,
    ) -> dict[str, Any]:
        """Checks ``token`` against the call received; returns its claims or raises ``DecisionTokenError``."""
        if not token:
            raise DecisionTokenError("missing_token", "the call carries no decision token")
        if not _JWS.match(token):
            raise DecisionTokenError("malformed_token", "not a compact JWS")
        h, p, s = token.split(".")
        try:
            header = json.loads(b64url_decode(h))
            claims = json.loads(b64url_decode(p))
            signature = b64url_decode(s)
        except ValueError:
            raise DecisionTokenError("malformed_token", "its header or claims are not base64url JSON") from None
        if not isinstance(header, dict) or header.get("alg") != "EdDSA":
            raise DecisionTokenError("malformed_token", f"alg {header.get('alg') if isinstance(header, dict) else None} is not EdDSA")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise DecisionTokenError("malformed_token", "no kid")
        key = self._key(kid)
        try:
            key.verify(signature, f"{h}.{p}".encode("ascii"))
        except InvalidSignature:
            raise DecisionTokenError("bad_signature", f"the signature does not verify with key {kid}") from None
        if not isinstance(claims, dict):
            raise DecisionTokenError("malformed_token", "claims are not an object")

        if claims.get("iss") != self.issuer:
            raise DecisionTokenError("wrong_issuer", f"issued by {claims.get('iss')}, not {self.issuer}")
        if claims.get("aud") != tool:
            raise DecisionTokenError("wrong_audience", f"the token is for {claims.get('aud')}, not {tool}")
        if claims.get("act") != action:
            raise DecisionTokenError("wrong_action", f"the token is for action {claims.get('act')}, not {action}")
        try:
            received = digest({} if arguments is None else arguments)
        except CanonicalJsonError as e:
            raise DecisionTokenError("digest_mismatch", f"the arguments have no canonical digest: {e}") from None
        if claims.get("args") != received:
            raise DecisionTokenError(
                "digest_mismatch", f"the token binds arguments {claims.get('args')}, the call has {received}"
            )
        if request_id is not None and claims.get("rid") != request_id:
            raise DecisionTokenError("wrong_request", f"the token is for request {claims.get('rid')}, not {request_id}")
        for name in ("sub", "tenant", "run", "jti"):
            if not isinstance(claims.get(name), str):
                raise DecisionTokenError("malformed_token", f"claim {name} is missing")
        exp, iat = claims.get("exp"), claims.get("iat")
        if isinstance(exp, bool) or isinstance(iat, bool) or not isinstance(exp, (int, float)) or not isinstance(iat, (int, float)):
            raise DecisionTokenError("malformed_token", "claims exp and iat must be numbers")

        now = self._clock()
        skew_ms = self.clock_skew_s * 1000
        if exp * 1000 + skew_ms <= now:
            raise DecisionTokenError("expired", f"expired at {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(exp))}")
        if iat * 1000 - skew_ms > now:
            raise DecisionTokenError("not_yet_valid", f"issued in the future ({time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(iat))})")

        revocation = self._revoked_by(claims)
        if revocation is not None:
            raise DecisionTokenError(
                "revoked", f"revoked by kill switch {revocation.get('switchId')} (scope {json.dumps(revocation.get('scope'))})"
            )
        if self.one_time_use:
            self._spend(claims, now, skew_ms)
        return claims

    def guarded(self, tool: str, action: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """A tool function that runs only with a valid token for ``tool``.``action`` and its keyword
        arguments: call it as ``f(decision_token=token, **arguments)``; the token is not passed on."""

        def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
            @functools.wraps(fn)
            def inner(*, decision_token: Optional[str] = None, **arguments: Any) -> Any:
                self.verify_decision_token(decision_token, tool=tool, action=action, arguments=arguments)
                return fn(**arguments)

            return inner

        return wrap

    # -- the JWKS

    def _key(self, kid: str) -> Ed25519PublicKey:
        with self._keys_lock:
            now = self._clock()
            stale = now - self._keys_read_at >= self._jwks_max_age_ms
            if stale or (kid not in self._keys and now - self._keys_read_at >= self._jwks_min_refresh_ms):
                try:
                    self._read_keys()
                except (OSError, ValueError) as e:
                    # Known keys stay usable while the registry cannot be reached.
                    if kid not in self._keys:
                        raise DecisionTokenError("jwks_unavailable", f"cannot read the registry's JWKS: {e}") from None
            key = self._keys.get(kid)
        if key is None:
            raise DecisionTokenError("unknown_key", f"no live decision-token key {kid} in the registry's JWKS")
        return key

    def _read_keys(self) -> None:
        url = f"{self.registry_url}/.well-known/jwks.json"
        with urllib.request.urlopen(url, timeout=self._timeout_s) as res:
            body = json.loads(res.read())
        keys: dict[str, Ed25519PublicKey] = {}
        for jwk in body.get("keys") or []:
            if (
                jwk.get("warden_use") != "decision_token"
                or jwk.get("kty") != "OKP"
                or jwk.get("crv") != "Ed25519"
                or not jwk.get("kid")
                or not jwk.get("x")
            ):
                continue
            try:
                keys[jwk["kid"]] = Ed25519PublicKey.from_public_bytes(b64url_decode(jwk["x"]))
            except ValueError:
                continue  # not a usable Ed25519 key: it verifies nothing
        self._keys = keys
        self._keys_read_at = self._clock()

    # -- the revocation list

    def _revoked_by(self, claims: Mapping[str, Any]) -> Optional[Mapping[str, Any]]:
        with self._revocations_lock:
            if self._clock() - self._revocations_read_at >= self._poll_ms:
                try:
                    self._read_revocations()
                except (OSError, ValueError) as e:
                    if self._clock() - self._revocations_read_at >= self._max_stale_ms:
                        raise DecisionTokenError(
                            "revocations_unavailable", f"cannot read the kill switch revocation list: {e}"
                        ) from None
            return is_revoked(list(self._revocations.values()), claims)

    def _read_revocations(self) -> None:
        query = f"?since={self._latest_revoked_at_ms}" if self._latest_revoked_at_ms else ""
        url = f"{self.killswitch_url}/revocations{query}"
        headers = {"accept": "application/json"}
        auth = self._authorization() if callable(self._authorization) else self._authorization
        if auth:
            headers["authorization"] = auth
        if self._etag:
            headers["if-none-match"] = self._etag
        try:
            with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=self._timeout_s) as res:
                body = json.loads(res.read())
                etag = res.headers.get("etag")
        except urllib.error.HTTPError as e:
            if e.code != 304:
                raise
            body, etag = None, self._etag
        if body is not None:
            for r in body.get("revocations") or []:
                self._revocations[r["switchId"]] = r
            self._latest_revoked_at_ms = max(self._latest_revoked_at_ms, int(body.get("latestRevokedAtMs") or 0))
            self._etag = etag
        read_at = self._clock()
        # A revocation older than any token's lifetime voids nothing that could still verify.
        horizon = read_at - MAX_TOKEN_LIFETIME_MS - 60_000
        for switch_id in [k for k, r in self._revocations.items() if r.get("issuedBeforeMs", 0) < horizon]:
            del self._revocations[switch_id]
        self._revocations_read_at = read_at

    # -- one-time use

    def _spend(self, claims: Mapping[str, Any], now: float, skew_ms: float) -> None:
        with self._seen_lock:
            for jti in [j for j, until in self._seen.items() if until <= now]:
                del self._seen[jti]
            if claims["jti"] in self._seen:
                raise DecisionTokenError("replayed", f"decision {claims['jti']} was used already")
            if len(self._seen) >= self._max_replay:
                raise DecisionTokenError("replayed", "too many unexpired decisions held for one-time use")
            self._seen[claims["jti"]] = claims["exp"] * 1000 + skew_ms


def decision_token_of(headers: Mapping[str, str]) -> Optional[str]:
    """The decision token of an HTTP request's headers: ``Warden-Decision-Token``, else ``Authorization: Bearer``."""
    lower = {k.lower(): v for k, v in headers.items()}
    token = (lower.get(DECISION_TOKEN_HEADER.lower()) or "").strip()
    if token:
        return token
    m = re.match(r"^Bearer\s+(\S+)$", lower.get("authorization") or "", re.IGNORECASE)
    return m.group(1) if m else None


Describe = Callable[[Mapping[str, Any], bytes], Mapping[str, Any]]


def wsgi_middleware(app: Callable[..., Any], verifier: ToolVerifier, describe: Describe) -> Callable[..., Any]:
    """A WSGI app that lets only calls with a valid decision token through to ``app``.

    ``describe(environ, body)`` says which call a request is: ``{"tool", "action", "arguments"}``
    (and optionally ``"request_id"``), e.g. from the path and the JSON body. A refusal answers with
    an application/problem+json body ``{status, code, detail}``; an accepted call reaches ``app``
    with the body still readable and the token's claims in ``environ["warden.decision"]``.
    """

    def guarded(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length > 0 else b""
        environ["wsgi.input"] = io.BytesIO(body)
        headers = {k[5:].replace("_", "-"): v for k, v in environ.items() if k.startswith("HTTP_")}
        try:
            call = describe(environ, body)
            claims = verifier.verify_decision_token(
                decision_token_of(headers),
                tool=call["tool"],
                action=call["action"],
                arguments=call.get("arguments"),
                request_id=call.get("request_id"),
            )
        except DecisionTokenError as refused:
            payload = json.dumps(refused.problem()).encode("utf-8")
            reason = {401: "Unauthorized", 403: "Forbidden", 503: "Service Unavailable"}[refused.status]
            start_response(
                f"{refused.status} {reason}",
                [("Content-Type", "application/problem+json"), ("Content-Length", str(len(payload)))],
            )
            return [payload]
        environ["warden.decision"] = claims
        return app(environ, start_response)

    return guarded
