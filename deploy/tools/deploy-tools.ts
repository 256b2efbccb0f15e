import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

/** The repository root (the tests run this file from deploy/tools). */
export const REPO_ROOT = join(__dirname, '..', '..');

/**
 * The tools deploy/tools/setup.sh builds and fetches (helm, warden-deploy-check, Strimzi's CRDs),
 * from WARDEN_DEPLOY_TOOLS or <repo>/.warden/tools. Fails with what to run when they are missing.
 */
export function deployTools(): { helm: string; check: string; crds: string } {
  const dir = process.env.WARDEN_DEPLOY_TOOLS ?? join(REPO_ROOT, '.warden', 'tools');
  const tools = {
    helm: join(dir, 'bin', 'helm'),
    check: join(dir, 'bin', 'warden-deploy-check'),
    crds: join(dir, 'crds'),
  };
  for (const path of Object.values(tools)) {
    if (!existsSync(path)) throw new Error(`${path} is missing: run deploy/tools/setup.sh (the test command does)`);
  }
  return tools;
}

export const CHART = join(REPO_ROOT, 'deploy', 'helm', 'warden');

/** `helm template` of the chart with values files (relative to the chart) and values to set. */
export function renderChart(files: readonly string[], set: Record<string, string | number | boolean> = {}): string {
  const { helm } = deployTools();
  const args = ['template', 'warden', CHART, ...files.flatMap((f) => ['-f', join(CHART, f)])];
  for (const [k, v] of Object.entries(set)) args.push(typeof v === 'string' ? '--set-string' : '--set', `${k}=${v}`);
  return execFileSync(helm, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
}

/** Runs warden-deploy-check; its JSON report and whether it found nothing wrong. */
export function runCheck<T>(args: readonly string[], input?: string): { report: T; ok: boolean } {
  const { check } = deployTools();
  const run = spawnSync(check, args, { input, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (run.status !== 0 && run.status !== 1) throw new Error(`warden-deploy-check ${args[0]} failed: ${run.stderr}`);
  return { report: JSON.parse(run.stdout) as T, ok: run.status === 0 };
}
