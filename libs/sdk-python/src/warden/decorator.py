"""``@warden.gated(tool=..., action=...)``: a tool function that asks the gate before it runs.

Allow → the function runs with the decision in ``warden.current_decision()``, and its outcome is
reported (completed, with the digest of its return value; or failed, with the exception's text,
which is raised again). Anything else — deny, expired, already completed, a pending approval not
resolved in time, no decision by the deadline — raises ``GateDenied`` carrying the verdict and the
reason, and the function does not run.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import inspect
import time
import uuid
from typing import Any, Callable, Iterator, Optional, TypeVar, Union

from .aio import AsyncWardenClient
from .canonical import CanonicalJsonError, canonical_json
from .client import WardenClient
from .wire import _NO_RESULT, GateResult

__all__ = [
    "GateDenied",
    "gated",
    "set_default_client",
    "run",
    "current_run_id",
    "current_decision",
]

F = TypeVar("F", bound=Callable[..., Any])
AnyClient = Union[WardenClient, AsyncWardenClient]

_default_client: Optional[AnyClient] = None
_run_id: contextvars.ContextVar[Optional[str]] = contextvars.ContextVar("warden_run_id", default=None)
_decision: contextvars.ContextVar[Optional[GateResult]] = contextvars.ContextVar("warden_decision", default=None)


class GateDenied(PermissionError):
    """The gate did not allow the call; ``result`` is its answer (``verdict``, ``reason``, ...)."""

    def __init__(self, tool: str, action: str, result: GateResult) -> None:
        super().__init__(f"warden: {tool}.{action} was not allowed ({result.verdict}): {result.reason}")
        self.tool = tool
        self.action = action
        self.result = result
        self.verdict = result.verdict
        self.reason = result.reason


def set_default_client(client: Optional[AnyClient]) -> None:
    """The client ``@gated`` functions use when they name none."""
    global _default_client
    _default_client = client


@contextlib.contextmanager
def run(run_id: str) -> Iterator[str]:
    """``with warden.run("run-1"):`` gated calls inside belong to that run."""
    token = _run_id.set(run_id)
    try:
        yield run_id
    finally:
        _run_id.reset(token)


def current_run_id() -> Optional[str]:
    return _run_id.get()


def current_decision() -> Optional[GateResult]:
    """Inside a gated function: the gate's allow (its ``decision_token`` goes to the tool)."""
    return _decision.get()


def _arguments(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
    bound = inspect.signature(fn).bind(*args, **kwargs)
    bound.apply_defaults()
    out: dict[str, Any] = {}
    for name, value in bound.arguments.items():
        kind = inspect.signature(fn).parameters[name].kind
        if kind is inspect.Parameter.VAR_KEYWORD:
            out.update(value)
        elif kind is inspect.Parameter.VAR_POSITIONAL:
            out[name] = list(value)
        else:
            out[name] = value
    return out


def _result(value: Any) -> Any:
    try:
        canonical_json(value)
        return value
    except CanonicalJsonError:
        return _NO_RESULT


def gated(
    tool: str,
    action: str,
    *,
    client: Optional[AnyClient] = None,
    run_id: Optional[str] = None,
    timeout_ms: Optional[int] = None,
    approval_timeout_ms: int = 0,
    **gate_fields: Any,
) -> Callable[[F], F]:
    """Gates a tool function: the call's arguments (by parameter name) are the gate request's arguments.

    ``run_id``: fixed here, else ``with warden.run(...)``, else a fresh one per call. Further keywords
    (``environment``, ``data_classes``, ``estimated_tokens``, ...) go to every gate request. A
    coroutine function needs an AsyncWardenClient; a plain function a WardenClient.
    """

    def decorate(fn: F) -> F:
        is_async = inspect.iscoroutinefunction(fn)

        def pick() -> AnyClient:
            chosen = client or _default_client
            if chosen is None:
                raise RuntimeError("@warden.gated needs a client: gated(..., client=c) or warden.set_default_client(c)")
            if is_async != isinstance(chosen, AsyncWardenClient):
                raise TypeError(
                    f"{fn.__name__} is {'a coroutine' if is_async else 'a plain'} function: it needs "
                    f"{'an AsyncWardenClient' if is_async else 'a WardenClient'}"
                )
            return chosen

        def ask(args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
            return dict(
                run_id=run_id or _run_id.get() or f"run-{uuid.uuid4()}",
                tool=tool,
                action=action,
                kind="tool_call",
                arguments=_arguments(fn, args, kwargs),
                timeout_ms=timeout_ms,
                approval_timeout_ms=approval_timeout_ms,
                **gate_fields,
            )

        if is_async:

            @functools.wraps(fn)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                c = pick()
                assert isinstance(c, AsyncWardenClient)
                result = await c.gate(**ask(args, kwargs))
                if not result.allowed:
                    raise GateDenied(tool, action, result)
                token = _decision.set(result)
                started = time.monotonic()
                try:
                    value = await fn(*args, **kwargs)
                except Exception as error:
                    await c.report_outcome(
                        result,
                        status="failed",
                        error=f"{type(error).__name__}: {error}",
                        duration_ms=int((time.monotonic() - started) * 1000),
                    )
                    raise
                finally:
                    _decision.reset(token)
                await c.report_outcome(
                    result, result=_result(value), duration_ms=int((time.monotonic() - started) * 1000)
                )
                return value

            return async_wrapper  # type: ignore[return-value]

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            c = pick()
            assert isinstance(c, WardenClient)
            result = c.gate(**ask(args, kwargs))
            if not result.allowed:
                raise GateDenied(tool, action, result)
            token = _decision.set(result)
            started = time.monotonic()
            try:
                value = fn(*args, **kwargs)
            except Exception as error:
                c.report_outcome(
                    result,
                    status="failed",
                    error=f"{type(error).__name__}: {error}",
                    duration_ms=int((time.monotonic() - started) * 1000),
                )
                raise
            finally:
                _decision.reset(token)
            c.report_outcome(result, result=_result(value), duration_ms=int((time.monotonic() - started) * 1000))
            return value

        return wrapper  # type: ignore[return-value]

    return decorate
