import { rssGrowth, stepVerdict } from './targets';

describe('rssGrowth', () => {
  it('flags a steady climb beyond 20 % and 32 MiB between the first and last quarter', () => {
    const climbing = Array.from({ length: 60 }, (_, i) => 150 + i * 2);
    expect(rssGrowth({ start: 150, end: 268, samples: climbing }).flagged).toBe(true);
  });

  it('does not flag a heap that breathes around a level', () => {
    const breathing = Array.from({ length: 60 }, (_, i) => 200 + (i % 6) * 12);
    expect(rssGrowth({ start: 200, end: 260, samples: breathing }).flagged).toBe(false);
  });

  it('compares end with start when there are few samples', () => {
    expect(rssGrowth({ start: 100, end: 150, samples: [100, 150] })).toMatchObject({ grewMiB: 50, flagged: true });
    expect(rssGrowth({ start: 300, end: 340, samples: [300, 340] }).flagged).toBe(false);
  });
});

describe('stepVerdict', () => {
  const load = (lost: number, p99: number, verdicts: Record<string, number> = { allow: 10 }) => ({
    lost,
    latency: { scheduled: { p99 } },
    verdicts,
  });

  it('passes within the p99 bound with nothing lost and every answer allow', () => {
    expect(stepVerdict(load(0, 99.9))).toEqual({ passed: true, why: 'p99 99.9 ms' });
  });

  it('says why a step failed', () => {
    expect(stepVerdict(load(3, 250, { allow: 5, expired: 2 }))).toEqual({
      passed: false,
      why: '3 lost, p99 250.0 ms, 2 expired',
    });
    expect(stepVerdict(load(0, NaN, {})).passed).toBe(false);
  });
});
