import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PERMISSIONS, ROLE_MEANINGS, ROLES } from '@warden/kernel';
import { allExamples, asModule, onStack } from './examples';

const ROOT = join(__dirname, '..', '..');

/** The rows of the markdown table whose header row starts with `first`, as trimmed cells. */
function table(markdown: string, first: string): string[][] {
  const lines = markdown.split('\n');
  const start = lines.findIndex((l) => l.replace(/\s+/g, ' ').startsWith(`| ${first} |`));
  if (start < 0) throw new Error(`no table headed "${first}"`);
  const rows: string[][] = [];
  for (const line of lines.slice(start + 2)) {
    if (!line.startsWith('|')) break;
    rows.push(
      line
        .split('|')
        .slice(1, -1)
        .map((cell) => cell.trim()),
    );
  }
  return rows;
}

describe('the README', () => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');

  it('documents every role and permission exactly as libs/kernel/src/roles.ts defines them', () => {
    expect(table(readme, 'role')).toEqual(ROLES.map((role) => [`\`${role}\``, ROLE_MEANINGS[role]]));
    expect(table(readme, 'permission')).toEqual(
      Object.entries(PERMISSIONS).map(([permission, { what, roles }]) => [`\`${permission}\``, what, roles.join(', ')]),
    );
  });
});

describe('the documentation harness (ADR 0113)', () => {
  it('finds the blocks of every documented file, with the markers above them', () => {
    const examples = allExamples(ROOT);
    const files = new Set(examples.map((e) => e.file));
    for (const file of [
      'README.md',
      'apps/registry/README.md',
      'apps/killswitch/README.md',
      'libs/sdk/README.md',
      'docs/benchmarks.md',
    ])
      expect(files).toContain(file);
    const quickStart = examples.find((e) => e.file === 'README.md' && e.code.includes('npm start'));
    expect(quickStart).toMatchObject({ lang: 'bash', kind: 'shell', skip: expect.stringContaining('start.e2e') });
    const killswitch = examples.find((e) => e.file === 'apps/killswitch/README.md' && e.code.includes('ks-payroll'));
    expect(killswitch?.expect.length).toBeGreaterThan(0);
  });

  it('maps the local stack onto the harness stack, and wraps TypeScript as a module it can call', () => {
    const stack = { ports: { 7101: 40001, 7106: 40006 }, brokers: '127.0.0.1:39092', topicPrefix: 't.docs.' };
    expect(
      onStack("curl localhost:7106/x http://127.0.0.1:7101/y; topicPrefix: 'warden.' 127.0.0.1:19092", stack),
    ).toBe("curl 127.0.0.1:40006/x http://127.0.0.1:40001/y; topicPrefix: 't.docs.' 127.0.0.1:39092");
    expect(asModule("import { a } from 'b';\nconst x = await a();")).toBe(
      "import { a } from 'b';\n\nexport default async function example(): Promise<void> {\n\nconst x = await a();\n}\n",
    );
  });
});
