import { execFile, spawn } from 'node:child_process';
import { join } from 'node:path';

/**
 * The Python SDK's unit tests (tests/unit: every protocol vector, digests, proofs, DPoP, fail
 * closed, the decorator) in its virtual environment, which setup-venv.sh creates and fills with pip
 * on first use. The integration tests run against a stack in test/e2e/python-sdk.e2e.spec.ts.
 */
jest.setTimeout(600_000);

const HERE = __dirname;

function venv(): Promise<string> {
  return new Promise((done, fail) => {
    execFile('bash', [join(HERE, 'setup-venv.sh')], { timeout: 600_000 }, (error, stdout, stderr) => {
      if (error) fail(new Error(`setup-venv.sh failed: ${error.message}\n${stderr}`));
      else done(stdout.trim().split('\n').pop() as string);
    });
  });
}

function run(python: string, args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((done) => {
    const child = spawn(python, args, { cwd: HERE, stdio: ['ignore', 'pipe', 'pipe'], timeout: 300_000 });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('close', (code) => done({ code, output }));
  });
}

it('passes its pytest unit tests (pytest libs/sdk-python/tests/unit in .warden/python)', async () => {
  const python = await venv();
  const { code, output } = await run(python, ['-m', 'pytest', '-q', '-rfE', 'tests/unit']);
  const summary = output.trim().split('\n').pop() ?? '';
  if (code !== 0) throw new Error(`pytest failed (exit ${code}): ${summary}\n\n${output}`);
  expect(summary).toMatch(/^\d+ passed/);
  expect(summary).not.toMatch(/failed|error|skipped/);
});
