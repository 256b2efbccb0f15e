"""The Kafka side of a client (librdkafka through confluent-kafka): one producer, and one consumer
assigned to the agent's reply topic at its end before any request goes out, polled by a thread of
its own that hands each decision to whoever waits for its request id."""

from __future__ import annotations

import json
import logging
import os
import threading
import uuid
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Optional

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition

from .topics import group_prefix, reply_topic

__all__ = ["KafkaSecurity", "Transport", "WardenError"]

log = logging.getLogger("warden")

SASL_MECHANISMS = ("plain", "scram-sha-256", "scram-sha-512")


class WardenError(RuntimeError):
    """Something the client could not do (connect, publish an outcome)."""


def _flag(text: Optional[str]) -> bool:
    return (text or "").strip().lower() in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class KafkaSecurity:
    """TLS and SASL towards Kafka: the agent's principal on a cluster with ACLs (docs/security.md).

    The same settings as the services' ``KAFKA_SSL``, ``KAFKA_SSL_CA_FILE``, ``KAFKA_SASL_MECHANISM``
    (plain, scram-sha-256, scram-sha-512), ``KAFKA_SASL_USERNAME``, ``KAFKA_SASL_PASSWORD``.
    """

    ssl: bool = False
    ssl_ca_file: Optional[str] = None
    sasl_mechanism: Optional[str] = None
    sasl_username: Optional[str] = None
    sasl_password: Optional[str] = None

    def __post_init__(self) -> None:
        if self.ssl_ca_file and not self.ssl:
            raise ValueError("KAFKA_SSL_CA_FILE needs KAFKA_SSL=true")
        mechanism = (self.sasl_mechanism or "").lower()
        if mechanism and mechanism not in SASL_MECHANISMS:
            raise ValueError(f"KAFKA_SASL_MECHANISM must be one of {', '.join(SASL_MECHANISMS)}, got {mechanism!r}")
        if mechanism and not self.sasl_username:
            raise ValueError("KAFKA_SASL_USERNAME is required with KAFKA_SASL_MECHANISM")
        if not mechanism and (self.sasl_username or self.sasl_password):
            raise ValueError("KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD need KAFKA_SASL_MECHANISM")

    @staticmethod
    def from_env(env: Mapping[str, str] = os.environ) -> "KafkaSecurity":
        return KafkaSecurity(
            ssl=_flag(env.get("KAFKA_SSL")),
            ssl_ca_file=(env.get("KAFKA_SSL_CA_FILE") or "").strip() or None,
            sasl_mechanism=(env.get("KAFKA_SASL_MECHANISM") or "").strip().lower() or None,
            sasl_username=env.get("KAFKA_SASL_USERNAME") or None,
            sasl_password=env.get("KAFKA_SASL_PASSWORD") or None,
        )

    def librdkafka(self) -> dict[str, str]:
        """The librdkafka settings these stand for."""
        sasl = bool(self.sasl_mechanism)
        protocol = {(False, False): "PLAINTEXT", (True, False): "SSL", (False, True): "SASL_PLAINTEXT"}.get(
            (self.ssl, sasl), "SASL_SSL"
        )
        config = {"security.protocol": protocol}
        if self.ssl_ca_file:
            config["ssl.ca.location"] = self.ssl_ca_file
        if sasl:
            config["sasl.mechanism"] = (self.sasl_mechanism or "").upper()
            config["sasl.username"] = self.sasl_username or ""
            config["sasl.password"] = self.sasl_password or ""
        return config


Delivery = Callable[[Optional[str]], None]


class Transport:
    """Producer, reply consumer and the thread that polls both."""

    def __init__(
        self,
        *,
        brokers: str,
        tenant_id: str,
        agent_id: str,
        topic_prefix: str,
        client_id: str,
        security: KafkaSecurity,
        kafka_config: Optional[Mapping[str, Any]] = None,
        connect_timeout_s: float = 10.0,
    ) -> None:
        self.prefix = topic_prefix
        self.topic = reply_topic(tenant_id, agent_id, topic_prefix)
        self.requests_topic = f"{topic_prefix}gate.requests"
        self.outcomes_topic = f"{topic_prefix}gate.outcomes"
        common: dict[str, Any] = {"bootstrap.servers": brokers, "client.id": client_id, **security.librdkafka()}
        extra = dict(kafka_config or {})
        self._producer = Producer(
            {
                **common,
                # Kafka's default partitioner (the Java client's): records of a run keep their order (docs/protocol.md).
                "partitioner": "murmur2_random",
                "enable.idempotence": True,
                "acks": "all",
                "linger.ms": 0,
                **extra,
            }
        )
        self.group_id = f"{group_prefix(tenant_id, agent_id, topic_prefix)}{uuid.uuid4()}"
        self._consumer = Consumer(
            {
                **common,
                "group.id": self.group_id,
                "enable.auto.commit": False,
                "auto.offset.reset": "latest",
                "allow.auto.create.topics": False,
                "fetch.wait.max.ms": 20,
                **extra,
            }
        )
        self._lock = threading.Lock()
        self._waiters: dict[str, Callable[[dict[str, Any]], None]] = {}
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        try:
            self._assign_at_end(connect_timeout_s)
        except BaseException:
            self._consumer.close()
            raise
        self._thread = threading.Thread(target=self._run, name=f"warden-{agent_id}", daemon=True)
        self._thread.start()

    def _assign_at_end(self, timeout_s: float) -> None:
        """Subscribe before publishing: the reply topic's partitions, from their current ends."""
        try:
            metadata = self._consumer.list_topics(self.topic, timeout=timeout_s)
        except KafkaException as error:
            raise WardenError(f"Kafka could not be reached: {error}") from error
        info = metadata.topics.get(self.topic)
        if info is None or info.error is not None or not info.partitions:
            why = info.error if info is not None and info.error is not None else "no partitions"
            raise WardenError(f"the agent has no reply topic {self.topic} (is it registered?): {why}")
        start = []
        for p in sorted(info.partitions):
            _low, high = self._consumer.get_watermark_offsets(TopicPartition(self.topic, p), timeout=timeout_s)
            start.append(TopicPartition(self.topic, p, high))
        self._consumer.assign(start)

    def wait_for(self, request_id: str, deliver: Callable[[dict[str, Any]], None]) -> None:
        with self._lock:
            self._waiters[request_id] = deliver

    def forget(self, request_id: str) -> None:
        with self._lock:
            self._waiters.pop(request_id, None)

    def publish(self, topic: str, key: str, value: bytes, headers: list[tuple[str, bytes]], done: Delivery) -> None:
        """Produces a record; ``done`` gets None once the broker has it, else the error's text."""

        def delivered(err: Optional[KafkaError], _msg: Any) -> None:
            done(None if err is None else str(err))

        try:
            self._producer.produce(topic, key=key.encode("utf-8"), value=value, headers=headers, on_delivery=delivered)
        except (KafkaException, BufferError) as error:
            done(str(error))
        self._producer.poll(0)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._producer.poll(0)
                message = self._consumer.poll(0.05)
            except Exception as error:  # noqa: BLE001 - the poller must not die (a callback's loop closed, ...)
                log.warning("warden: polling failed: %s", error)
                continue
            if message is None:
                continue
            if message.error() is not None:
                if message.error().code() != KafkaError._PARTITION_EOF:
                    log.warning("warden: reply topic: %s", message.error())
                continue
            self._dispatch(message)

    def _dispatch(self, message: Any) -> None:
        headers = {k: (v.decode("utf-8", "replace") if v is not None else "") for k, v in message.headers() or []}
        content_type = headers.get("content-type", "application/protobuf").split(";")[0].strip()
        if headers.get("ce_type") != "warden.gate.v1.GateDecided":
            return
        if content_type != "application/json":
            # Replies are asked for in JSON (warden-reply-content-type); anything else is not for this client.
            log.warning("warden: a reply in %s was ignored (this client reads JSON replies)", content_type)
            return
        try:
            decision = json.loads(message.value() or b"{}")
        except ValueError:
            return
        if not isinstance(decision, dict):
            return
        with self._lock:
            deliver = self._waiters.get(str(decision.get("requestId") or ""))
        if deliver is not None:
            try:
                deliver(decision)
            except RuntimeError as error:  # the waiter's event loop is gone
                log.warning("warden: a decision could not be handed over: %s", error)

    def flush(self, timeout_s: float) -> int:
        return self._producer.flush(timeout_s)

    def close(self, timeout_s: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
        self._producer.flush(timeout_s)
        self._consumer.close()
