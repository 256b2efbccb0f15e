import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The examples of the documentation (ADR 0113): every fenced block of README.md, apps/*\/README.md,
 * libs/*\/README.md and docs/*.md, with the markers written above it as HTML comments (invisible when rendered):
 *
 *   <!-- doc-test: expect <regular expression> -->  the block's output must match (one or more)
 *   <!-- doc-test: skip <reason> -->                not run: the reason says why, and where it is tested instead
 *   <!-- doc-test: compile-only <reason> -->        TypeScript that is compiled but not run
 *
 * Languages: bash/sh/shell run in bash against a real stack, ts/typescript are compiled against
 * the real packages and run, json must parse, text is prose or a diagram (no example). Any other
 * language, or none, must be marked skip: nothing goes unchecked without saying so.
 */
export type Kind = 'shell' | 'typescript' | 'json' | 'text';

export interface Example {
  /** Repository-relative file and the line of the opening fence, e.g. `apps/registry/README.md:155`. */
  readonly where: string;
  readonly file: string;
  readonly line: number;
  readonly lang: string;
  readonly kind: Kind | undefined;
  readonly code: string;
  readonly skip?: string;
  readonly compileOnly?: string;
  readonly expect: readonly RegExp[];
  /** Markers that are not understood: the harness fails on them rather than ignore a typo. */
  readonly unknownMarkers: readonly string[];
}

const KINDS: Record<string, Kind> = {
  bash: 'shell',
  sh: 'shell',
  shell: 'shell',
  ts: 'typescript',
  typescript: 'typescript',
  json: 'json',
  text: 'text',
};

const FENCE = /^(\s*)(`{3,})(\S*)\s*$/;
const MARKER = /^\s*<!--\s*doc-test:\s*(.*?)\s*-->\s*$/;

/** The documented files: README.md, apps/*\/README.md, libs/*\/README.md, docs/*.md (not the ADRs, which record decisions). */
export function documentedFiles(root: string): string[] {
  const readmes = (dir: string) =>
    readdirSync(join(root, dir))
      .map((name) => join(dir, name, 'README.md'))
      .filter((file) => existsSync(join(root, file)))
      .sort();
  const docs = readdirSync(join(root, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .map((name) => join('docs', name));
  return ['README.md', ...readmes('apps'), ...readmes('libs'), ...docs.sort()];
}

export function examplesOf(root: string, file: string): Example[] {
  const lines = readFileSync(join(root, file), 'utf8').split('\n');
  const examples: Example[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = FENCE.exec(lines[i]);
    if (!open) continue;
    const [, indent, ticks, lang] = open;
    let end = i + 1;
    while (end < lines.length && !(lines[end].trim() === ticks && lines[end].startsWith(indent))) end++;
    const code = lines
      .slice(i + 1, end)
      .map((l) => (l.startsWith(indent) ? l.slice(indent.length) : l))
      .join('\n');
    const markers: string[] = [];
    // The markers just above the fence; blank lines between them are allowed (prettier puts one in).
    for (let m = i - 1; m >= 0 && (MARKER.test(lines[m]) || lines[m].trim() === ''); m--) {
      const marker = MARKER.exec(lines[m]);
      if (marker) markers.unshift(marker[1]);
    }
    examples.push(withMarkers({ file, line: i + 1, lang, code }, markers));
    i = end;
  }
  return examples;
}

function withMarkers(block: { file: string; line: number; lang: string; code: string }, markers: string[]): Example {
  let skip: string | undefined;
  let compileOnly: string | undefined;
  const expect: RegExp[] = [];
  const unknownMarkers: string[] = [];
  for (const marker of markers) {
    const [, verb, rest] = /^(\S+)\s*(.*)$/.exec(marker) ?? [];
    if (verb === 'skip') skip = rest;
    else if (verb === 'compile-only') compileOnly = rest;
    else if (verb === 'expect') expect.push(new RegExp(rest, 'm'));
    else unknownMarkers.push(marker);
  }
  return {
    ...block,
    where: `${block.file}:${block.line}`,
    kind: KINDS[block.lang],
    skip,
    compileOnly,
    expect,
    unknownMarkers,
  };
}

export function allExamples(root: string): Example[] {
  return documentedFiles(root).flatMap((file) => examplesOf(root, file));
}

/** What is not run, and why: the harness prints this list on every run. */
export function exceptions(examples: readonly Example[]): string[] {
  return examples
    .filter((e) => e.skip !== undefined || e.compileOnly !== undefined)
    .map(
      (e) => `${e.where} [${e.lang}] ${e.skip !== undefined ? `skip: ${e.skip}` : `compile only: ${e.compileOnly}`}`,
    );
}

/**
 * Examples are written for the local stack of `npm start` (services on 127.0.0.1:7101-7106, the
 * HTTP gate on 7107, the
 * broker on 127.0.0.1:19092, topic prefix `warden.`); the harness runs them against its own stack,
 * so it maps those addresses onto it.
 */
export interface StackAddresses {
  /** Default port (7101-7107) -> the port the harness's service listens on. */
  readonly ports: Readonly<Record<number, number>>;
  readonly brokers: string;
  readonly topicPrefix: string;
}

export function onStack(code: string, stack: StackAddresses): string {
  return code
    .replace(
      /\b(?:localhost|127\.0\.0\.1):(710[1-7])\b/g,
      (_, port: string) => `127.0.0.1:${stack.ports[Number(port)]}`,
    )
    .replace(/\b127\.0\.0\.1:19092\b/g, stack.brokers)
    .replace(/topicPrefix: 'warden\.'/g, `topicPrefix: '${stack.topicPrefix}'`);
}

/** A TypeScript example as a module: its imports, then its statements in an async function the harness calls. */
export function asModule(code: string): string {
  const imports: string[] = [];
  const body = code.replace(/^import\s[\s\S]*?from\s+['"][^'"]+['"];?[ \t]*$/gm, (statement) => {
    imports.push(statement);
    return '';
  });
  return `${imports.join('\n')}\n\nexport default async function example(): Promise<void> {\n${body}\n}\n`;
}
