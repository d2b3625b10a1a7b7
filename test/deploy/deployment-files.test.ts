import { type ChildProcess, execFile, spawn } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, posix, sep } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { EXIT } from '../../src/cli/index.js';
import { loadConfig, VARIABLES } from '../../src/config.js';
import { noteMissingCapability } from '../helpers/ci.js';
import { childEnv, E2E_API_KEY, REPO_ROOT } from '../helpers/process.js';
import {
  type Copy,
  envOf,
  healthcheckArgv,
  instructions,
  isDockerIgnored,
  parseCopy,
  parseDockerfile,
  type Stage,
} from './dockerfile.js';

/**
 * The deployment files (Dockerfile, .dockerignore, compose.yaml, deploy/mailhook.service) checked as
 * far as a machine without a container runtime allows: the production install the image's runtime
 * stage holds really starts without dev dependencies, and every name, path and port the files share
 * with the code agrees with it.
 */

const run = promisify(execFile);
const read = (path: string) => readFileSync(join(REPO_ROOT, path), 'utf8');

const stages = parseDockerfile(read('Dockerfile'));
const runtime = stages.at(-1)!;
const build = stages.find((stage) => stage.name === 'build');
const runtimeCopies = instructions(runtime, 'COPY').map(parseCopy);
const runtimeEnv = envOf(runtime);

/** The image's paths are absolute inside it; the stage's WORKDIR anchors relative ones. */
function workdirOf(stage: Stage): string {
  return instructions(stage, 'WORKDIR').at(-1) ?? '/';
}

function pathInImage(stage: Stage, path: string): string {
  return posix.resolve(workdirOf(stage), path);
}

/** Each file or directory a COPY places, as [source in its stage, destination in the image]. */
function placements(stage: Stage, copy: Copy): Array<[string, string]> {
  const destination = pathInImage(stage, copy.destination);
  const intoDirectory = copy.destination.endsWith('/') || copy.sources.length > 1;
  return copy.sources.map((source) => [
    source,
    intoDirectory ? posix.join(destination, posix.basename(source)) : destination,
  ]);
}

const tempDirs: string[] = [];
function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.push(dir);
  return dir;
}

afterAll(async () => {
  // Only after a failed test is one still running.
  for (const server of started) if (server.child.exitCode === null) server.child.kill('SIGKILL');
  await Promise.all(started.map((server) => server.exited.catch(() => null)));
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

describe('the production install', () => {
  it("starts from exactly the files the image's runtime stage copies, with dev dependencies pruned", async () => {
    expect(build, 'the Dockerfile has a stage named "build"').toBeDefined();
    expect(existsSync(join(REPO_ROOT, 'dist', 'cli', 'index.js')), 'dist/ is built (npm run build)').toBe(
      true,
    );
    const app = tempDir('mailhook-prod-install-');
    const appRoot = workdirOf(runtime);
    for (const copy of runtimeCopies) {
      expect(copy.from, `runtime COPY ${copy.sources.join(' ')} comes from the build stage`).toBe('build');
      for (const [source, destination] of placements(runtime, copy)) {
        // The build stage's WORKDIR holds the repository's layout: /app/dist is the repo's dist/.
        const fromRepo = posix.relative(workdirOf(build!), source);
        const into = join(app, posix.relative(appRoot, destination));
        expect(fromRepo.startsWith('..'), `${source} lies inside the build stage's WORKDIR`).toBe(false);
        mkdirSync(dirname(into), { recursive: true });
        cpSync(join(REPO_ROOT, fromRepo), into, { recursive: true, verbatimSymlinks: true });
      }
    }
    // What the build stage runs before the runtime stage copies node_modules from it.
    expect(instructions(build!, 'RUN').some((r) => r.includes('npm prune --omit=dev'))).toBe(true);
    await run('npm', ['prune', '--omit=dev', '--offline', '--no-audit', '--no-fund'], {
      cwd: app,
      env: childEnv({}),
    });
    for (const devOnly of ['typescript', 'vitest', '@biomejs/biome']) {
      expect(existsSync(join(app, 'node_modules', devOnly)), `${devOnly} is pruned`).toBe(false);
    }

    const server = startFrom(app, tempDir('mailhook-prod-data-'));
    const url = await server.listening;
    // The server runs from the copy: it found the migrations and the dashboard next to its dist/.
    expect(server.output()).toContain('"msg":"migrations applied"');
    const healthz = await fetch(`${url}/healthz`);
    expect(healthz.status).toBe(200);
    expect(await healthz.json()).toEqual({ status: 'ok' });
    expect((await fetch(`${url}/readyz`)).status).toBe(200);
    const page = await fetch(`${url}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/html');

    // The image's HEALTHCHECK command, run as Docker would (with the image's PORT swapped for the
    // test server's): 0 while the server answers, 1 once it is gone.
    const port = new URL(url).port;
    const healthcheck = healthcheckArgv(instructions(runtime, 'HEALTHCHECK').at(-1) ?? '');
    expect(healthcheck[0]).toBe('node');
    const check = () =>
      run(process.execPath, healthcheck.slice(1), { env: childEnv({ PORT: port }), timeout: 10_000 }).then(
        () => 0,
        (err: { code?: number }) => err.code ?? -1,
      );
    expect(await check()).toBe(0);

    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
    expect(await check()).toBe(1);
  }, 60_000);
});

interface Started {
  child: ChildProcess;
  /** The URL from the "mailhook listening" log line; rejects if the process exits before it. */
  listening: Promise<string>;
  exited: Promise<number | null>;
  output(): string;
}

const started: Started[] = [];

/** `node bin/mailhook.js serve` as the image runs it, from the install in `app`, on a port of its choice. */
function startFrom(app: string, dataDir: string): Started {
  const child = spawn(process.execPath, [join(app, 'bin', 'mailhook.js'), 'serve'], {
    cwd: app,
    env: childEnv({
      HOST: '127.0.0.1',
      PORT: '0',
      MAILHOOK_DATA_DIR: dataDir,
      MAILHOOK_API_KEY: E2E_API_KEY,
      MAILHOOK_LOG_LEVEL: 'info',
    }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const exited = new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve(code));
  });
  const listening = new Promise<string>((resolve, reject) => {
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      out += chunk;
      const url = listeningUrl(out);
      if (url) resolve(url);
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      out += chunk;
    });
    exited.then(
      (code) => reject(new Error(`mailhook serve exited (code ${code}) before listening:\n${out}`)),
      reject,
    );
  });
  const server = { child, listening, exited, output: () => out };
  started.push(server);
  return server;
}

function listeningUrl(output: string): string | undefined {
  for (const line of output.split('\n')) {
    if (!line.startsWith('{"')) continue;
    try {
      const entry = JSON.parse(line) as { msg?: string; url?: string };
      if (entry.msg === 'mailhook listening' && entry.url) return entry.url;
    } catch {
      // A line still being written: the next chunk completes it.
    }
  }
  return undefined;
}

describe('package.json', () => {
  const pkg = JSON.parse(read('package.json')) as { scripts: Record<string, string>; files: string[] };

  it('starts without building (no TypeScript needed) and builds on install of a clone', () => {
    expect(pkg.scripts.prestart).toBeUndefined();
    expect(pkg.scripts.start).toBe('node bin/mailhook.js serve');
    expect(pkg.scripts.prepare).toBe('npm run build');
  });

  it('ships in the image everything it lists in `files`, with its dependencies', () => {
    const copied = runtimeCopies.flatMap((copy) =>
      placements(runtime, copy).map(([, destination]) => posix.relative(workdirOf(runtime), destination)),
    );
    for (const entry of pkg.files) expect(copied, `runtime stage copies ${entry}`).toContain(entry);
    expect(copied).toEqual(expect.arrayContaining(['package.json', 'node_modules']));
  });
});

describe('Dockerfile and .dockerignore', () => {
  const dockerignore = read('.dockerignore');

  it('copies into the build stage only paths that exist and that .dockerignore keeps', () => {
    const copies = instructions(build!, 'COPY').map(parseCopy);
    expect(copies.length).toBeGreaterThan(0);
    for (const copy of copies) {
      expect(copy.from).toBeNull();
      for (const source of copy.sources) {
        expect(existsSync(join(REPO_ROOT, source)), `${source} exists`).toBe(true);
        for (const file of filesUnder(source)) {
          expect(isDockerIgnored(file, dockerignore), `${file} reaches the build context`).toBe(false);
        }
      }
    }
    // Built inside the image: host copies could hold another platform's native binaries.
    expect(isDockerIgnored('node_modules/better-sqlite3/build/Release/x.node', dockerignore)).toBe(true);
    expect(isDockerIgnored('dist/cli/index.js', dockerignore)).toBe(true);
    expect(isDockerIgnored('data/mailhook.db', dockerignore)).toBe(true);
  });

  it('runs as a non-root user, listens on all interfaces of the container on the exposed port', () => {
    const user = instructions(runtime, 'USER').at(-1);
    expect(user).toBeDefined();
    expect(user!.split(':')[0]).not.toMatch(/^(root|0)$/);
    const exposed = instructions(runtime, 'EXPOSE').map((e) => e.replace(/\/tcp$/, ''));
    expect(exposed).toEqual([runtimeEnv.PORT ?? VARIABLES.PORT.default]);
    expect(exposed).toEqual([VARIABLES.PORT.default]);
    expect(runtimeEnv.HOST).toBe('0.0.0.0');
    expect(runtimeEnv).not.toHaveProperty('DATABASE_URL');
    // The environment the image sets is one the server accepts.
    expect(() => loadConfig(runtimeEnv, '/app')).not.toThrow();
  });

  it('keeps the data directory in a volume the service user owns', () => {
    const dataDir = runtimeEnv.MAILHOOK_DATA_DIR;
    expect(dataDir).toMatch(/^\//);
    expect(instructions(runtime, 'VOLUME')).toEqual([dataDir]);
    const prepare = instructions(runtime, 'RUN').find((r) => r.includes(`mkdir -p ${dataDir}`));
    expect(prepare, `a RUN creates ${dataDir}`).toBeDefined();
    expect(prepare).toContain(`chown node:node ${dataDir}`);
    expect(prepare).toContain(`chmod 700 ${dataDir}`);
    // The `node` user and group of the official image are 1000.
    expect(['node', 'node:node', '1000', '1000:1000']).toContain(instructions(runtime, 'USER').at(-1));
    const volumeAt = runtime.instructions.findIndex((i) => i.keyword === 'VOLUME');
    const runAt = runtime.instructions.findIndex((i) => i.keyword === 'RUN' && i.args === prepare);
    // Changes to a VOLUME path after its declaration are discarded.
    expect(runAt).toBeLessThan(volumeAt);
  });
});

function filesUnder(path: string): string[] {
  const absolute = join(REPO_ROOT, path);
  if (!statSync(absolute).isDirectory()) return [path];
  return readdirSync(absolute, { recursive: true, encoding: 'utf8' })
    .filter((entry) => statSync(join(absolute, entry)).isFile())
    .map((entry) => posix.join(path, entry.split(sep).join('/')));
}

/** Compose's `${VAR}`, `${VAR:-default}` and `${VAR:?error}`, enough to read the file as compose does. */
function interpolate(text: string, env: Record<string, string>): string {
  return text.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::([-?])([^}]*))?\}/g, (_, name, op, arg) => {
    const value = env[name as string];
    if (value !== undefined && value !== '') return value;
    if (op === '?') throw new Error(`${name}: ${arg}`);
    return op === '-' ? (arg as string) : '';
  });
}

describe('compose.yaml', () => {
  const text = read('compose.yaml');
  type Service = {
    image?: string;
    build?: string;
    environment?: Record<string, string>;
    depends_on?: Record<string, { condition: string }>;
    healthcheck?: { test: string[] };
    volumes?: string[];
    ports?: string[];
  };
  const compose = () =>
    parseYaml(interpolate(text, { POSTGRES_PASSWORD: 'pw0123456789' })) as {
      services: Record<string, Service>;
      volumes: Record<string, unknown>;
    };

  it('wires DATABASE_URL to the PostgreSQL service, with its user, password and database', () => {
    const { services } = compose();
    const mailhook = services.mailhook!;
    const databaseUrl = mailhook.environment?.DATABASE_URL;
    expect(databaseUrl).toBeDefined();
    expect(loadConfig({ DATABASE_URL: databaseUrl }).databaseUrl).toBe(databaseUrl);
    const url = new URL(databaseUrl!);
    const postgres = services[url.hostname];
    expect(postgres, `DATABASE_URL names the service "${url.hostname}"`).toBeDefined();
    expect(postgres!.image).toMatch(/^postgres:\d+/);
    expect(url.port).toBe('5432');
    expect(url.username).toBe(postgres!.environment?.POSTGRES_USER);
    expect(url.password).toBe(postgres!.environment?.POSTGRES_PASSWORD);
    expect(url.pathname).toBe(`/${postgres!.environment?.POSTGRES_DB}`);
  });

  it('starts mailhook once PostgreSQL is healthy, and keeps the database in a named volume', () => {
    const { services, volumes } = compose();
    expect(services.mailhook!.depends_on?.postgres?.condition).toBe('service_healthy');
    expect(services.postgres!.healthcheck?.test.join(' ')).toContain('pg_isready');
    // The official image keeps its data in /var/lib/postgresql/data up to 17 and under
    // /var/lib/postgresql/<major>/docker from 18, with the volume one level up.
    const major = Number(/^postgres:(\d+)/.exec(services.postgres!.image ?? '')?.[1]);
    const dataPath = major >= 18 ? '/var/lib/postgresql' : '/var/lib/postgresql/data';
    const mount = services.postgres!.volumes?.find((v) => v.endsWith(`:${dataPath}`));
    expect(mount, `a volume is mounted at ${dataPath}`).toBeDefined();
    expect(volumes).toHaveProperty(mount!.split(':')[0]!);
  });

  it("builds this repository's image and publishes its port", () => {
    const mailhook = compose().services.mailhook!;
    expect(mailhook.build).toBe('.');
    expect(mailhook.ports?.map((p) => p.split(':').at(-1))).toEqual(instructions(runtime, 'EXPOSE'));
  });

  it('refuses to start without a PostgreSQL password rather than use a default one', () => {
    expect(() => interpolate(text, {})).toThrow(/POSTGRES_PASSWORD/);
  });

  it('is a valid compose file (docker compose config), where Docker Compose is installed', async () => {
    const compose = await run('docker', ['compose', 'version']).then(
      () => true,
      () => false,
    );
    if (!compose) {
      noteMissingCapability('compose.yaml validation', 'docker compose is not installed');
      return;
    }
    await run('docker', ['compose', '-f', join(REPO_ROOT, 'compose.yaml'), 'config', '--quiet'], {
      env: childEnv({ POSTGRES_PASSWORD: 'pw0123456789' }),
    });
  });
});

describe('deploy/mailhook.service', () => {
  const unit = read('deploy/mailhook.service');
  const directives = (name: string) =>
    unit
      .split('\n')
      .filter((line) => line.startsWith(`${name}=`))
      .map((line) => line.slice(name.length + 1));

  it('keeps its data in a state directory that matches MAILHOOK_DATA_DIR, as an unprivileged user', () => {
    expect(directives('DynamicUser')).toEqual(['yes']);
    const stateDirectory = directives('StateDirectory');
    expect(stateDirectory).toHaveLength(1);
    expect(directives('Environment')).toContain(`MAILHOOK_DATA_DIR=/var/lib/${stateDirectory[0]}`);
    expect(directives('StateDirectoryMode')).toEqual(['0700']);
    expect(directives('EnvironmentFile')).toEqual(['-/etc/mailhook/mailhook.env']);
    expect(existsSync(join(REPO_ROOT, 'deploy', 'mailhook.env.example'))).toBe(true);
  });

  it('is hardened, yet leaves V8 its writable-then-executable memory', () => {
    expect(directives('ProtectSystem')).toEqual(['strict']);
    expect(directives('ProtectHome')).toEqual(['yes']);
    expect(directives('PrivateTmp')).toEqual(['yes']);
    expect(directives('NoNewPrivileges')).toEqual(['yes']);
    expect(directives('RestrictAddressFamilies')).toHaveLength(1);
    expect(directives('MemoryDenyWriteExecute')).toEqual([]);
    expect(directives('Restart')).toEqual(['on-failure']);
    // A configuration error fails the same way on every restart.
    expect(directives('RestartPreventExitStatus')).toEqual([String(EXIT.config)]);
  });

  it('starts the server with settings the server accepts', () => {
    const env = Object.fromEntries(directives('Environment').map((e) => e.split('=', 2) as [string, string]));
    expect(() => loadConfig(env, '/')).not.toThrow();
    expect(directives('ExecStart')).toEqual(['/usr/bin/node /opt/mailhook/bin/mailhook.js serve']);
  });

  it('passes systemd-analyze verify, where systemd-analyze is installed', async () => {
    const found = await run('systemd-analyze', ['--version']).then(
      () => true,
      () => false,
    );
    if (!found) {
      noteMissingCapability('systemd unit verification', 'systemd-analyze is not installed');
      return;
    }
    // verify checks that ExecStart's program exists: point it at this Node and this checkout.
    const dir = tempDir('mailhook-unit-');
    const file = join(dir, 'mailhook.service');
    writeFileSync(
      file,
      unit
        .replaceAll('/usr/bin/node', process.execPath)
        .replaceAll('/opt/mailhook', REPO_ROOT.replace(/\/$/, '')),
    );
    // Exit status 0 even for unknown keys or bad values: those are reported on stderr.
    const { stdout, stderr } = await run('systemd-analyze', ['verify', file]);
    const complaints = `${stdout}${stderr}`.split('\n').filter((line) => line.includes('mailhook'));
    expect(complaints).toEqual([]);
  });
});
