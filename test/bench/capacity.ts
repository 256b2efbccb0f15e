/** The capacity search: the highest rate whose step passes (p99 bound, nothing lost). */
export interface CapacityOptions {
  readonly startRate: number;
  readonly maxRate: number;
  /** Bisection stops once the failing rate is within this many percent of the passing one. */
  readonly resolutionPercent: number;
}

export interface CapacityResult {
  /** The highest rate that passed (0 when even 1/s failed). */
  readonly capacity: number;
  /** The lowest rate that failed above it (undefined when maxRate passed: capacity is at least maxRate). */
  readonly failedAt?: number;
  /** Every step in the order run. */
  readonly steps: readonly { readonly rate: number; readonly passed: boolean }[];
}

/**
 * Doubles the rate from startRate while steps pass (up to maxRate), halves it while they fail
 * (down to 1/s), then bisects between the highest pass and the lowest failure until they are
 * within resolutionPercent. `step` runs one load at a rate (after draining the previous one) and
 * says whether it passed.
 */
export async function searchCapacity(
  options: CapacityOptions,
  step: (rate: number) => Promise<boolean>,
): Promise<CapacityResult> {
  const steps: { rate: number; passed: boolean }[] = [];
  const run = async (rate: number) => {
    const passed = await step(rate);
    steps.push({ rate, passed });
    return passed;
  };
  let pass = 0;
  let fail: number | undefined;
  for (let rate = Math.min(options.startRate, options.maxRate); ; rate = Math.min(rate * 2, options.maxRate)) {
    if (!(await run(rate))) {
      fail = rate;
      break;
    }
    pass = rate;
    if (rate >= options.maxRate) return { capacity: pass, steps };
  }
  while (pass === 0 && fail > 1) {
    const rate = Math.floor(fail / 2);
    if (await run(rate)) pass = rate;
    else fail = rate;
  }
  while (pass > 0 && fail - pass > 1 && fail - pass > (pass * options.resolutionPercent) / 100) {
    const rate = Math.round((pass + fail) / 2);
    if (await run(rate)) pass = rate;
    else fail = rate;
  }
  return { capacity: pass, failedAt: fail, steps };
}
