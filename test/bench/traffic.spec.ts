import { groupName, parseMetrics, subtract, totalTraffic, trafficPer } from './traffic';

const P = 'bench.abc.';

describe('the bench reading client stats', () => {
  it('parses the warden_kafka_* series of /metrics and ignores the rest', () => {
    const text = [
      '# HELP warden_kafka_requests_total Kafka requests sent',
      '# TYPE warden_kafka_requests_total counter',
      `warden_kafka_requests_total{client="producer",api="Produce",service="budget"} 12`,
      `warden_kafka_requests_total{client="${P}budget.requests",api="Fetch",service="budget"} 30`,
      `warden_kafka_records_delivered_total{group="${P}budget.requests",topic="${P}gate.requests",service="budget"} 100`,
      `warden_kafka_records_produced_total{topic="${P}budget.reservations",service="budget"} 100`,
      `warden_kafka_group_joins_total{group="${P}budget.requests",service="budget"} 1`,
      `warden_messages_total{consumer="x",topic="y",outcome="handled",service="budget"} 5`,
    ].join('\n');
    expect(parseMetrics(text)).toEqual({
      requests: { producer: { Produce: 12 }, [`${P}budget.requests`]: { Fetch: 30 } },
      delivered: { [`${P}budget.requests`]: { [`${P}gate.requests`]: 100 } },
      produced: { [`${P}budget.reservations`]: 100 },
      joins: { [`${P}budget.requests`]: 1 },
    });
  });

  it('divides a window by its decisions, naming groups without prefix and random suffix', () => {
    const sdk = `${P}sdk.bench-0.0b6e7c1e-2f8a-4d51-9c3e-6f1a2b3c4d5e`;
    const before = {
      requests: { producer: { Produce: 10 }, [sdk]: { Fetch: 5, Heartbeat: 1 } },
      delivered: { [sdk]: { [`${P}gate.decisions`]: 50 } },
      produced: { [`${P}gate.requests`]: 50 },
      joins: { [sdk]: 1 },
    };
    const after = {
      requests: { producer: { Produce: 110 }, [sdk]: { Fetch: 55, Heartbeat: 3 } },
      delivered: { [sdk]: { [`${P}gate.decisions`]: 250 } },
      produced: { [`${P}gate.requests`]: 150 },
      joins: { [sdk]: 1 },
    };
    const window = subtract(after, before);
    expect(window.joins).toEqual({});
    const t = trafficPer(window, 100, P);
    expect(t).toMatchObject({
      delivered: 2,
      produced: 1,
      produceRequests: 1,
      fetchRequests: 0.5,
      requests: 1.52,
      deliveredBy: { 'sdk.bench-0.*': { 'gate.decisions': 2 } },
      producedBy: { 'gate.requests': 1 },
    });
    expect(totalTraffic([t, t])).toMatchObject({
      delivered: 4,
      produced: 2,
      deliveredBy: { 'sdk.bench-0.*': { 'gate.decisions': 4 } },
    });
  });

  it('keeps group names from other prefixes as they are', () => {
    expect(groupName('other.policy.decisions', P)).toBe('other.policy.decisions');
  });
});
