import { clientsFor, readBenchConfig, withGatewaySection } from './config';

describe('readBenchConfig', () => {
  it('measures 200/s and 500/s against the floor by default', () => {
    const c = readBenchConfig({});
    expect(c).toMatchObject({ mode: 'latency', rates: [200, 500], seconds: 20, only: 'both', idleSeconds: 15 });
  });

  it('takes one rate from BENCH_RATE or a list from BENCH_RATES', () => {
    expect(readBenchConfig({ BENCH_RATE: '300', BENCH_RATES: '1,2' }).rates).toEqual([300]);
    expect(readBenchConfig({ BENCH_RATES: '100, 250,1000' }).rates).toEqual([100, 250, 1000]);
  });

  it('names the variable at fault', () => {
    expect(() => readBenchConfig({ BENCH_RATES: '100,fast' })).toThrow(/BENCH_RATES must be an integer, got "fast"/);
    expect(() => readBenchConfig({ BENCH_MODE: 'quick' })).toThrow(/BENCH_MODE/);
    expect(() => readBenchConfig({ BENCH_HOG_CORE: '-1' })).toThrow(/BENCH_HOG_CORE must be >= 0/);
    expect(() => readBenchConfig({ BENCH_CAPACITY_START: '500', BENCH_CAPACITY_MAX: '100' })).toThrow(
      /BENCH_CAPACITY_MAX \(100\) must be >= BENCH_CAPACITY_START \(500\)/,
    );
  });

  it('has the defaults of each mode', () => {
    expect(readBenchConfig({ BENCH_MODE: 'capacity' })).toMatchObject({
      rates: [],
      only: 'both',
      capacity: { startRate: 50, maxRate: 5000, resolutionPercent: 10, stepSeconds: 15 },
    });
    expect(readBenchConfig({ BENCH_MODE: 'contention' })).toMatchObject({ rates: [200], hogCore: undefined });
    expect(readBenchConfig({ BENCH_MODE: 'contention', BENCH_HOG_CORE: '1' }).hogCore).toBe(1);
    expect(readBenchConfig({ BENCH_MODE: 'idle', BENCH_SECONDS: '9' })).toMatchObject({
      rates: [],
      only: 'warden',
      idleSeconds: 9,
    });
    expect(readBenchConfig({ BENCH_MODE: 'sustained' })).toMatchObject({ rates: [], seconds: 600, only: 'warden' });
    expect(readBenchConfig({ BENCH_MODE: 'sustained', BENCH_RATE: '120' }).rates).toEqual([120]);
  });

  it('runs the gateway section in latency mode (or alone with BENCH_ONLY=gateway) unless BENCH_GATEWAY_REQUESTS=0', () => {
    expect(readBenchConfig({})).toMatchObject({ gatewayRequests: 2000, gatewayConcurrency: 8 });
    expect(withGatewaySection(readBenchConfig({}))).toBe(true);
    expect(withGatewaySection(readBenchConfig({ BENCH_ONLY: 'warden' }))).toBe(true);
    expect(withGatewaySection(readBenchConfig({ BENCH_GATEWAY_REQUESTS: '0' }))).toBe(false);
    expect(withGatewaySection(readBenchConfig({ BENCH_ONLY: 'floor' }))).toBe(false);
    expect(withGatewaySection(readBenchConfig({ BENCH_MODE: 'capacity' }))).toBe(false);
    const alone = readBenchConfig({
      BENCH_ONLY: 'gateway',
      BENCH_GATEWAY_REQUESTS: '50',
      BENCH_GATEWAY_CONCURRENCY: '2',
    });
    expect(alone).toMatchObject({ only: 'gateway', gatewayRequests: 50, gatewayConcurrency: 2 });
    expect(withGatewaySection(alone)).toBe(true);
    expect(() => readBenchConfig({ BENCH_ONLY: 'gateway', BENCH_GATEWAY_REQUESTS: '0' })).toThrow(
      /BENCH_GATEWAY_REQUESTS must be > 0/,
    );
    expect(() => readBenchConfig({ BENCH_GATEWAY_CONCURRENCY: '0' })).toThrow(/BENCH_GATEWAY_CONCURRENCY must be >= 1/);
    expect(() => readBenchConfig({ BENCH_GATEWAY_REQUESTS: 'many' })).toThrow(
      /BENCH_GATEWAY_REQUESTS must be an integer/,
    );
  });

  it('adds a load generator per 2,500 requests/s unless BENCH_CLIENTS says otherwise', () => {
    const c = readBenchConfig({});
    expect([clientsFor(c, 200), clientsFor(c, 2500), clientsFor(c, 2501)]).toEqual([1, 1, 2]);
    expect(clientsFor(readBenchConfig({ BENCH_CLIENTS: '3' }), 200)).toBe(3);
  });
});
