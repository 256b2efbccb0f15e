"""The stack these tests run against, from the environment the Jest suite
test/e2e/python-sdk.e2e.spec.ts sets (it starts the six services and registers the agent)."""

import json
import os
import time

import pytest

import warden

NEEDED = ("WARDEN_BROKERS", "WARDEN_TOPIC_PREFIX", "WARDEN_REGISTRY_URL", "WARDEN_AGENT_ID", "WARDEN_CLIENT_SECRET")


def pytest_collection_modifyitems(config, items):
    missing = [n for n in NEEDED if not os.environ.get(n)]
    if missing:
        skip = pytest.mark.skip(reason=f"no stack: {', '.join(missing)} unset (run by test/e2e/python-sdk.e2e.spec.ts)")
        for item in items:
            if "integration" in str(item.fspath):
                item.add_marker(skip)


class Stack:
    def __init__(self):
        env = os.environ
        self.brokers = env["WARDEN_BROKERS"]
        self.prefix = env["WARDEN_TOPIC_PREFIX"]
        self.registry = env["WARDEN_REGISTRY_URL"]
        self.tenant = env.get("WARDEN_TENANT", "acme")
        self.agent = env["WARDEN_AGENT_ID"]
        self.secret = env["WARDEN_CLIENT_SECRET"]
        self.private_key = json.loads(env["WARDEN_AGENT_KEY"]) if env.get("WARDEN_AGENT_KEY") else None
        self.credential_id = env.get("WARDEN_AGENT_CREDENTIAL_ID")
        self.report_file = env.get("WARDEN_REPORT")

    def credentials(self, secret=None):
        return warden.AgentCredentials(registry_url=self.registry, agent_id=self.agent, client_secret=secret or self.secret)

    def options(self, **extra):
        return dict(
            brokers=self.brokers,
            topic_prefix=self.prefix,
            tenant_id=self.tenant,
            agent_id=self.agent,
            client_id="pytest-integration",
            default_timeout_ms=10_000,
            **{"credentials": self.credentials(), **extra},
        )

    def report(self, key, value):
        """What the Jest suite checks afterwards over the services' HTTP APIs (e.g. trace's record of an outcome)."""
        if not self.report_file:
            return
        data = json.loads(open(self.report_file).read()) if os.path.exists(self.report_file) else {}
        data.setdefault(key, []).append(value)
        with open(self.report_file, "w") as f:
            json.dump(data, f)


@pytest.fixture(scope="session")
def stack():
    return Stack()


READ = dict(tool="tickets", action="read", environment="prod", estimated_tokens=10)


@pytest.fixture(scope="session")
def client(stack):
    c = warden.WardenClient(**stack.options())
    # The gate reads the registry from Kafka: wait until it knows the agent the suite registered.
    deadline = time.monotonic() + 60
    while True:
        result = c.gate(run_id="run-warm-up", arguments={"ticket": 1}, **READ)
        if result.allowed or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert result.allowed, result.reason
    yield c
    c.close()
