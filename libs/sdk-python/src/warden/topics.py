"""Topic and group names, and Kafka's default partitioner (docs/protocol.md, "Topics and names")."""

from __future__ import annotations

import hashlib

__all__ = [
    "encode_topic_part",
    "reply_topic",
    "group_prefix",
    "murmur2",
    "partition_of",
    "GATE_REQUESTS",
    "GATE_OUTCOMES",
]

GATE_REQUESTS = "gate.requests"
GATE_OUTCOMES = "gate.outcomes"
_KEPT = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-")


def encode_topic_part(ident: str) -> str:
    """``enc``: ``A-Z a-z 0-9 -`` kept, every other UTF-8 byte as ``_`` + two hex digits; long ids hashed."""
    raw = ident.encode("utf-8")
    out = "".join(chr(b) if b in _KEPT else f"_{b:02x}" for b in raw)
    if len(out) <= 96:
        return out
    return "h-" + hashlib.sha256(raw).hexdigest()[:40]


def reply_topic(tenant_id: str, agent_id: str, prefix: str = "") -> str:
    """The agent's reply topic: ``<prefix>replies.<enc(tenant)>.<enc(agent)>``."""
    return f"{prefix}replies.{encode_topic_part(tenant_id)}.{encode_topic_part(agent_id)}"


def group_prefix(tenant_id: str, agent_id: str, prefix: str = "") -> str:
    """What the agent's consumer group ids start with: ``<prefix>sdk.<enc(tenant)>.<enc(agent)>.``."""
    return f"{prefix}sdk.{encode_topic_part(tenant_id)}.{encode_topic_part(agent_id)}."


def murmur2(data: bytes) -> int:
    """Kafka's murmur2 (the Java client's), as a signed 32-bit integer."""
    m = 0x5BD1E995
    length = len(data)
    h = (0x9747B28C ^ length) & 0xFFFFFFFF
    for i in range(0, length - length % 4, 4):
        k = int.from_bytes(data[i : i + 4], "little")
        k = (k * m) & 0xFFFFFFFF
        k ^= k >> 24
        k = (k * m) & 0xFFFFFFFF
        h = (h * m) & 0xFFFFFFFF
        h ^= k
    rest = length % 4
    tail = length - rest
    if rest == 3:
        h ^= data[tail + 2] << 16
    if rest >= 2:
        h ^= data[tail + 1] << 8
    if rest >= 1:
        h ^= data[tail]
        h = (h * m) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * m) & 0xFFFFFFFF
    h ^= h >> 15
    return h - (1 << 32) if h & 0x80000000 else h


def partition_of(key: str, partitions: int) -> int:
    """``(murmur2(UTF-8 key) & 0x7fffffff) mod partitions``: librdkafka's ``murmur2_random``."""
    return (murmur2(key.encode("utf-8")) & 0x7FFFFFFF) % partitions
