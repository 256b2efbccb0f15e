import { searchCapacity } from './capacity';

/** A system that keeps up with `limit` requests/s: a step passes when its rate is at most that. */
const upTo = (limit: number) => async (rate: number) => rate <= limit;

describe('searchCapacity', () => {
  it('doubles until a step fails, then bisects to within the resolution', async () => {
    const r = await searchCapacity({ startRate: 50, maxRate: 5000, resolutionPercent: 10 }, upTo(730));
    expect(r.steps.slice(0, 5).map((s) => s.rate)).toEqual([50, 100, 200, 400, 800]);
    expect(r.capacity).toBeLessThanOrEqual(730);
    expect(r.failedAt).toBeGreaterThan(730);
    expect(r.failedAt! - r.capacity).toBeLessThanOrEqual(r.capacity * 0.1);
    expect(r.steps.every((s) => s.passed === s.rate <= 730)).toBe(true);
  });

  it('halves below the start rate when the first step fails', async () => {
    const r = await searchCapacity({ startRate: 400, maxRate: 5000, resolutionPercent: 10 }, upTo(60));
    expect(r.steps.slice(0, 4).map((s) => s.rate)).toEqual([400, 200, 100, 50]);
    expect(r.capacity).toBeGreaterThanOrEqual(55);
    expect(r.capacity).toBeLessThanOrEqual(60);
  });

  it('stops at the maximum rate when everything passes', async () => {
    const r = await searchCapacity({ startRate: 50, maxRate: 300, resolutionPercent: 10 }, upTo(10_000));
    expect(r.steps.map((s) => s.rate)).toEqual([50, 100, 200, 300]);
    expect(r.capacity).toBe(300);
    expect(r.failedAt).toBeUndefined();
  });

  it('reports 0 when even one request a second fails', async () => {
    const r = await searchCapacity({ startRate: 8, maxRate: 100, resolutionPercent: 10 }, upTo(0));
    expect(r.steps.map((s) => s.rate)).toEqual([8, 4, 2, 1]);
    expect(r).toMatchObject({ capacity: 0, failedAt: 1 });
  });
});
