"""RFC 8785 (JCS) canonical JSON and the arguments digest (docs/protocol.md, "Arguments and their digest").

Members are sorted by the UTF-16 code units of their names, there is no whitespace, and strings and
numbers are serialized as ECMAScript does (``JSON.stringify``). The gate decodes arguments into
protobuf's ``Struct``, where every number is a double, so an integer must be exact as a double:
integers beyond 2**53 are refused, as are NaN, infinities and lone surrogates.
"""

from __future__ import annotations

import hashlib
import math
from typing import Any

__all__ = ["CanonicalJsonError", "canonical_json", "digest", "arguments_digest"]

_MAX_EXACT = 2**53


class CanonicalJsonError(ValueError):
    """A value that has no canonical JSON form; ``path`` is its JSON pointer (RFC 6901)."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path or '/'}: {message}")
        self.path = path


_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _string(value: str, path: str) -> str:
    out = ['"']
    for ch in value:
        code = ord(ch)
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif code < 0x20:
            out.append(f"\\u{code:04x}")
        elif 0xD800 <= code <= 0xDFFF:
            raise CanonicalJsonError(path, "a string holds a lone surrogate")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _number(value: float, path: str) -> str:
    """ECMAScript's Number::toString for a finite double (ECMA-262, 6.1.6.1.20)."""
    if not math.isfinite(value):
        raise CanonicalJsonError(path, f"{value} is not a JSON number")
    if value == 0:
        return "0"
    sign = "-" if value < 0 else ""
    text = repr(abs(value))  # the shortest digits that round-trip, as ECMAScript picks them
    mantissa, _, exp = text.partition("e")
    whole, _, fraction = mantissa.partition(".")
    combined = whole + fraction
    stripped = combined.lstrip("0")
    n = len(whole) + (int(exp) if exp else 0) - (len(combined) - len(stripped))
    digits = stripped.rstrip("0")
    k = len(digits)
    if k <= n <= 21:
        body = digits + "0" * (n - k)
    elif 0 < n <= 21:
        body = f"{digits[:n]}.{digits[n:]}"
    elif -6 < n <= 0:
        body = "0." + "0" * (-n) + digits
    else:
        e = n - 1
        body = (digits if k == 1 else f"{digits[0]}.{digits[1:]}") + ("e+" if e >= 0 else "e-") + str(abs(e))
    return sign + body


def _pointer(path: str, key: str | int) -> str:
    return f"{path}/{str(key).replace('~', '~0').replace('/', '~1')}"


def canonical_json(value: Any, path: str = "") -> str:
    """The RFC 8785 canonical JSON text of ``value`` (dicts, lists/tuples, str, int, float, bool, None)."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        if abs(value) > _MAX_EXACT:
            raise CanonicalJsonError(path, f"{value} is beyond 2^53: not exact as a JSON number")
        return str(value)
    if isinstance(value, float):
        return _number(value, path)
    if isinstance(value, str):
        return _string(value, path)
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(canonical_json(v, _pointer(path, i)) for i, v in enumerate(value)) + "]"
    if isinstance(value, dict):
        for key in value:
            if not isinstance(key, str):
                raise CanonicalJsonError(path, f"member name {key!r} is not a string")
        names = sorted(value, key=lambda k: k.encode("utf-16-be", "surrogatepass"))
        return "{" + ",".join(f"{_string(k, path)}:{canonical_json(value[k], _pointer(path, k))}" for k in names) + "}"
    raise CanonicalJsonError(path, f"a {type(value).__name__} is not a JSON value")


def digest(value: Any) -> str:
    """``sha256:`` + hex SHA-256 of the canonical JSON (UTF-8): the digest of arguments or a result."""
    return "sha256:" + hashlib.sha256(canonical_json(value).encode("utf-8")).hexdigest()


arguments_digest = digest
