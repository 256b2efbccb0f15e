import { execFile, spawn } from 'node:child_process';
import { join, resolve } from 'node:path';

/** The repository root and the Python SDK's directory. */
export const ROOT = resolve(__dirname, '..', '..');
export const SDK_PYTHON = join(ROOT, 'libs', 'sdk-python');

/**
 * The Python SDK's virtual environment, created and filled with pip by libs/sdk-python/setup-venv.sh
 * (a no-op when its stamp matches pyproject.toml); resolves with the venv's python.
 */
export function pythonVenv(): Promise<string> {
  return new Promise((done, fail) => {
    execFile('bash', [join(SDK_PYTHON, 'setup-venv.sh')], { cwd: ROOT, timeout: 600_000 }, (error, stdout, stderr) => {
      if (error) fail(new Error(`setup-venv.sh failed: ${error.message}\n${stderr}`));
      else done(stdout.trim().split('\n').pop() as string);
    });
  });
}

/** Runs `python args...` to its end; the output is both streams, interleaved. */
export function runPython(
  python: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  timeoutMs: number,
): Promise<{ code: number | null; output: string }> {
  return new Promise((done) => {
    const child = spawn(python, args, {
      cwd: SDK_PYTHON,
      env: { ...process.env, PYTHONUNBUFFERED: '1', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: timeoutMs,
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('close', (code) => done({ code, output }));
  });
}

/** pytest's summary line ("12 passed, 1 skipped in 3.2s"), for the failure message. */
export function pytestSummary(output: string): string {
  const lines = output.trim().split('\n');
  return lines.reverse().find((l) => /\d+ (passed|failed|error)/.test(l)) ?? lines[0] ?? '';
}
