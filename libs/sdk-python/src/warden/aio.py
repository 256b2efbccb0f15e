"""The asyncio client: the same protocol as WardenClient, awaited. Kafka runs on librdkafka's own
threads and the transport's poller; decisions and delivery reports reach the event loop through
``call_soon_threadsafe``, so ``gate()`` never blocks the loop."""

from __future__ import annotations

import asyncio
import time
from typing import Any, Mapping, Optional

from .client import ClientOptions, _Core, _split
from .kafka import WardenError
from .wire import _NO_RESULT, GateResult, RequestIds, encode, refusal, result_of

__all__ = ["AsyncWardenClient"]


class AsyncWardenClient(_Core):
    """``client = await AsyncWardenClient.connect(...)``; ``await client.gate(...)``; ``await client.close()``."""

    def __init__(self, options: ClientOptions, transport: Any) -> None:
        self._init(options, transport)

    @classmethod
    async def connect(cls, **options: Any) -> "AsyncWardenClient":
        opts = ClientOptions(**options)
        transport = await asyncio.to_thread(opts.transport)
        return cls(opts, transport)

    async def __aenter__(self) -> "AsyncWardenClient":
        return self

    async def __aexit__(self, *_exc: Any) -> None:
        await self.close()

    async def gate(
        self,
        *,
        run_id: str,
        timeout_ms: Optional[int] = None,
        approval_timeout_ms: int = 0,
        request_id: Optional[str] = None,
        tenant_id: Optional[str] = None,
        agent_id: Optional[str] = None,
        agent_token: Optional[str] = None,
        **fields: Any,
    ) -> GateResult:
        """As WardenClient.gate: no decision within ``timeout_ms`` is a deny (fail closed)."""
        loop = asyncio.get_running_loop()
        timeout = timeout_ms or self.options.default_timeout_ms
        gate_fields, traceparent = _split(dict(fields))
        ids = self._ids(request_id, run_id)
        problem = self._identity_problem(tenant_id, agent_id)
        if problem:
            return refusal(ids, problem)
        token = agent_token
        if not token and self.options.tokens is not None:
            try:
                token = await asyncio.to_thread(self.options.tokens.token)
            except Exception as error:  # noqa: BLE001 - any failure fails closed
                return refusal(ids, f"no agent token: {error} (fail closed)")
        request, sent, headers = self._request(ids, token, timeout, gate_fields, traceparent)
        deadline = time.monotonic() + timeout / 1000
        replies: "asyncio.Queue[dict[str, Any]]" = asyncio.Queue()
        delivered: "asyncio.Future[Optional[str]]" = loop.create_future()

        def on_delivery(error: Optional[str]) -> None:
            loop.call_soon_threadsafe(lambda: delivered.done() or delivered.set_result(error))

        self._transport.wait_for(sent.request_id, lambda d: loop.call_soon_threadsafe(replies.put_nowait, d))
        try:
            self._transport.publish(self._transport.requests_topic, run_id, encode(request), headers, on_delivery)
            try:
                error = await asyncio.wait_for(asyncio.shield(delivered), max(0.0, deadline - time.monotonic()))
            except asyncio.TimeoutError:
                error = None
            if error is not None:
                return refusal(sent, f"gate request could not be published: {error} (fail closed)")
            interim: Optional[dict[str, Any]] = None
            while True:
                try:
                    decision = await asyncio.wait_for(replies.get(), max(0.0, deadline - time.monotonic()))
                except asyncio.TimeoutError:
                    break
                if not decision.get("final") and approval_timeout_ms > 0:
                    if interim is None:
                        interim = decision
                        deadline = time.monotonic() + approval_timeout_ms / 1000
                    continue
                return result_of(decision, sent)
            if interim is not None:
                return result_of(interim, sent)
            return refusal(sent, f"no decision within {timeout} ms (fail closed)", timed_out=True)
        finally:
            self._transport.forget(sent.request_id)

    async def report_outcome(
        self,
        request: RequestIds | GateResult,
        *,
        status: str = "completed",
        result: Any = _NO_RESULT,
        actual_tokens: float = 0,
        actual_cost: Optional[Mapping[str, Any]] = None,
        duration_ms: float = 0,
        error: str = "",
        retryable: bool = False,
        timeout_s: float = 10.0,
    ) -> None:
        """As WardenClient.report_outcome."""
        loop = asyncio.get_running_loop()
        ids, outcome, headers = self._outcome(
            request,
            status,
            result=result,
            actual_tokens=actual_tokens,
            actual_cost=actual_cost,
            duration_ms=duration_ms,
            error=error,
            retryable=retryable,
        )
        delivered: "asyncio.Future[Optional[str]]" = loop.create_future()

        def on_delivery(problem: Optional[str]) -> None:
            loop.call_soon_threadsafe(lambda: delivered.done() or delivered.set_result(problem))

        self._transport.publish(self._transport.outcomes_topic, ids.run_id, encode(outcome), headers, on_delivery)
        try:
            problem = await asyncio.wait_for(delivered, timeout_s)
        except asyncio.TimeoutError:
            problem = f"not acknowledged within {timeout_s} s"
        if problem is not None:
            raise WardenError(f"the outcome of {ids.request_id} could not be published: {problem}")

    async def close(self) -> None:
        await asyncio.to_thread(self._transport.close)
