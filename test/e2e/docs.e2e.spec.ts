import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { kafkaBrokers } from '@warden/platform/testing';
import { DEFAULT_PORTS } from '@warden/local-stack';
import { allExamples, asModule, Example, exceptions, onStack, StackAddresses } from '../docs/examples';
import { startTestStack, TestStack } from './stack';

/**
 * Every example of the documentation, run (ADR 0113): the shell examples in bash against the six
 * services and the HTTP gate as processes on the test broker and Postgres, each request answered below 400 (curl
 * fails otherwise) and the output matching the block's `expect` markers; the TypeScript examples
 * compiled against the real packages, then run; JSON parsed. What is not run is marked in the
 * document, with its reason, and listed here on every run.
 */
jest.setTimeout(300_000);

const ROOT = resolve(__dirname, '..', '..');
const WORK = join(ROOT, '.warden', 'doc-tests');
const examples = allExamples(ROOT);
const checked = examples.filter((e) => e.skip === undefined && e.kind !== undefined && e.kind !== 'text');
const typescript = checked.filter((e) => e.kind === 'typescript');
const runnable = checked.filter((e) => e.compileOnly === undefined);
const slug = (e: Example) => e.where.replace(/[^A-Za-z0-9]+/g, '-');

function run(command: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs: number) {
  return new Promise<{ code: number | null; output: string }>((done) => {
    const child = spawn(command, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('close', (code) => done({ code, output }));
  });
}

describe("the documentation's examples, run against a real stack", () => {
  let running: TestStack;
  let addresses: StackAddresses;
  let env: NodeJS.ProcessEnv;
  let compiled: { ok: boolean; output: string };

  beforeAll(async () => {
    rmSync(WORK, { recursive: true, force: true });
    for (const dir of ['bin', 'sh', 'ts']) mkdirSync(join(WORK, dir), { recursive: true });
    running = await startTestStack('docs', { optional: ['gateway'] });
    const { stack, prefix } = running;
    addresses = {
      ports: Object.fromEntries(stack.services.map((s) => [DEFAULT_PORTS[s], Number(new URL(stack.urls[s]!).port)])),
      brokers: kafkaBrokers().join(','),
      topicPrefix: prefix,
    };
    // curl as the examples mean it: a request answered 400 or above fails the example.
    const curl = execFileSync('bash', ['-c', 'command -v curl'], { encoding: 'utf8' }).trim();
    writeFileSync(join(WORK, 'bin', 'curl'), `#!/bin/sh\nexec ${curl} --fail-with-body --silent --show-error "$@"\n`);
    chmodSync(join(WORK, 'bin', 'curl'), 0o755);
    env = {
      ...process.env,
      PATH: `${join(WORK, 'bin')}:${process.env.PATH}`,
      KAFKA_BROKERS: addresses.brokers,
      DATABASE_URL: running.databaseUrl,
      WARDEN_TOPIC_PREFIX: prefix,
    };
    // Every TypeScript example as a module, compiled in one run against the real packages.
    for (const e of typescript) writeFileSync(join(WORK, 'ts', `${slug(e)}.ts`), asModule(onStack(e.code, addresses)));
    writeFileSync(
      join(WORK, 'tsconfig.json'),
      JSON.stringify({ extends: '../../tsconfig.base.json', include: ['ts/*.ts'], exclude: [] }),
    );
    const tsc = await run(
      process.execPath,
      [require.resolve('typescript/bin/tsc'), '-p', join(WORK, 'tsconfig.json')],
      env,
      240_000,
    );
    compiled = { ok: typescript.length === 0 || tsc.code === 0, output: tsc.output };
  });

  afterAll(async () => {
    await running?.stop();
  });

  it('knows every block, or the block says why it is not run; the exceptions are listed', () => {
    const problems = examples.flatMap((e) => [
      ...(e.kind === undefined && e.skip === undefined
        ? [`${e.where}: no runner for language "${e.lang}": use bash, ts, json or text, or mark it skip`]
        : []),
      ...e.unknownMarkers.map((m) => `${e.where}: unknown marker "doc-test: ${m}"`),
      ...(e.skip === '' || e.compileOnly === '' ? [`${e.where}: a skip or compile-only marker needs its reason`] : []),
      ...(e.kind === 'shell' && e.skip === undefined && e.expect.length === 0
        ? [`${e.where}: say what it prints with <!-- doc-test: expect <regular expression> -->`]
        : []),
    ]);
    const notRun = exceptions(examples);
    writeFileSync(join(WORK, 'not-run.txt'), `${notRun.join('\n')}\n`);
    process.stdout.write(`documentation examples not run (${notRun.length}):\n  ${notRun.join('\n  ')}\n`);
    expect(problems).toEqual([]);
  });

  it('compiles the TypeScript examples against the real packages', () => {
    if (!compiled.ok) throw new Error(`tsc:\n${compiled.output}`);
  });

  for (const e of runnable) {
    it(`${e.where} (${e.lang})`, async () => {
      if (e.kind === 'json') {
        JSON.parse(e.code);
        return;
      }
      if (e.kind === 'typescript') {
        if (!compiled.ok) throw new Error('it does not compile: see "compiles the TypeScript examples"');
        const module = (await import(join(WORK, 'ts', `${slug(e)}.ts`))) as { default: () => Promise<void> };
        await module.default();
        return;
      }
      const script = join(WORK, 'sh', `${slug(e)}.sh`);
      writeFileSync(script, `set -euo pipefail\n${onStack(e.code, addresses)}\n`);
      const { code, output } = await run('bash', [script], env, 120_000);
      if (code !== 0) throw new Error(`exited ${code}:\n${output}`);
      for (const pattern of e.expect)
        expect({ where: e.where, output }).toEqual({ where: e.where, output: expect.stringMatching(pattern) });
    });
  }
});
