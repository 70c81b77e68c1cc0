import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, freshDatabase, freshNamespace, TEST_NATS_URL, type FreshDatabase, type FreshNamespace } from '@keyplane/testing';

// The README's quickstart, as a user runs it: `npm start` builds, starts every service on a
// fresh store, prints the gateway URL and the bootstrap admin key once, serves, and stops
// everything on Ctrl-C (SIGINT to the whole process group, as a terminal sends it).

const repoRoot = fileURLToPath(new URL('../../..', import.meta.url));
// `npm start` builds first: before it refuses anything, that took 32-38 s of a test's time in CI
// on a slow machine, beside another test file.
const START_TIMEOUT_MS = 150_000;

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.destroy();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
  });
}

/** The processes left in a process group: npm, the stack's main and every service it started. */
function processesInGroup(groupId: number): number[] {
  const table = execFileSync('ps', ['-e', '-o', 'pid=,pgid='], { encoding: 'utf8' });
  return table
    .trim()
    .split('\n')
    .map((row) => row.trim().split(/\s+/).map(Number))
    .filter(([, pgid]) => pgid === groupId)
    .map(([pid]) => pid);
}

async function groupGone(groupId: number, timeoutMs: number): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  while (processesInGroup(groupId).length > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
  return processesInGroup(groupId);
}

interface Started {
  child: ChildProcess;
  output(): { stdout: string; stderr: string };
  exited: Promise<number | null>;
}

function npmStart(env: Record<string, string>): Started {
  const child = spawn('npm', ['start'], { cwd: repoRoot, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => ({ stdout, stderr }), exited };
}

async function outputContains(started: Started, text: string): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (!started.output().stdout.includes(text)) {
    if (started.child.exitCode !== null || Date.now() > deadline) {
      throw new Error(`npm start did not print "${text}":\n${started.output().stdout}\n${started.output().stderr}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('npm start', () => {
  let database: FreshDatabase;
  let namespace: FreshNamespace;
  let logDir: string;
  const runs: Started[] = [];

  /**
   * `npm start` on this file's database, namespace and log folder and on free ports, with
   * `overrides` on top: whatever a test breaks, the stack it starts cannot touch a developer's.
   */
  async function start(overrides: Record<string, string> = {}) {
    const ports = { PORT: await freePort(), METRICS_PORT: await freePort(), KEYS_PORT: await freePort(), AUTH_PORT: await freePort(), METERING_PORT: await freePort() };
    const demoPort = await freePort();
    const run = npmStart({
      ...Object.fromEntries(Object.entries(ports).map(([name, port]) => [name, String(port)])),
      UPSTREAM_URL: `http://127.0.0.1:${demoPort}`,
      DATABASE_URL: database.url,
      NATS_URL: TEST_NATS_URL,
      NATS_PREFIX: namespace.ns.prefix,
      KEYPLANE_LOG_DIR: logDir,
      ...overrides,
    });
    runs.push(run);
    return { run, ports: [...Object.values(ports), demoPort], gateway: `http://127.0.0.1:${ports.PORT}` };
  }

  beforeAll(async () => {
    database = await freshDatabase('npm_start');
    namespace = freshNamespace();
    logDir = mkdtempSync(join(tmpdir(), 'keyplane-start-'));
  });

  afterAll(async () => {
    // A failed run must not leave services holding ports.
    for (const run of runs) {
      if (processesInGroup(run.child.pid!).length === 0) continue;
      process.kill(-run.child.pid!, 'SIGKILL');
      await groupGone(run.child.pid!, 10_000);
    }
    await namespace.cleanup();
    await database.drop();
    rmSync(logDir, { recursive: true, force: true });
  });

  it(
    'starts the stack on a fresh store, prints the URL and the admin key once, serves, and stops on Ctrl-C',
    async () => {
      const { run: started, ports, gateway } = await start();
      await outputContains(started, 'Try: curl');
      const { stdout } = started.output();
      expect(stdout).toContain(`Keyplane is running: ${gateway}`);
      for (const name of ['keys', 'auth', 'metering', 'demo-api', 'gateway']) expect(stdout).toMatch(new RegExp(`^  ${name} +ready$`, 'm'));
      const adminKey = /Bootstrap admin key \(shown once; store it now\):\n {2}(\S+)\n/.exec(stdout)?.[1];
      expect(adminKey).toMatch(/^tv_live_/);

      const listed = await fetch(`${gateway}/v1/api-keys`, { headers: { authorization: `Bearer ${adminKey}` } });
      expect(listed.status).toBe(200);
      expect(listed.headers.get('x-ratelimit-limit')).toBe('1000');
      expect(((await listed.json()) as { data: { name: string }[] }).data.map((key) => key.name)).toEqual(['bootstrap admin']);
      const flows = await fetch(`${gateway}/v1/flows`, { headers: { authorization: `Bearer ${adminKey}` } });
      expect({ status: flows.status, body: await flows.json() }).toEqual({ status: 200, body: { data: [] } });
      const refused = await fetch(`${gateway}/v1/flows`);
      expect(refused.status).toBe(401);
      expect(refused.headers.get('www-authenticate')).toBe('Bearer');

      // In the one message on the terminal (the key, then the curl example), never in the log files.
      expect(stdout.split(adminKey!)).toHaveLength(3);
      expect(readFileSync(join(logDir, 'keys.log'), 'utf8')).toContain('"bootstrapAdminKey":"[shown once on the terminal]"');
      for (const name of ['keys', 'auth', 'metering', 'demo-api', 'gateway']) expect(readFileSync(join(logDir, `${name}.log`), 'utf8')).not.toContain(adminKey);

      // npm itself dies of the signal, as it does for any script; the stack's main stops the services.
      process.kill(-started.child.pid!, 'SIGINT');
      expect(await groupGone(started.child.pid!, 30_000)).toEqual([]);
      expect(started.output().stdout).toContain('Stopping Keyplane...');
      expect(started.output().stderr).not.toContain('exited with code');
      for (const port of ports) expect({ port, listening: await listening(port) }).toEqual({ port, listening: false });
    },
    START_TIMEOUT_MS + 30_000,
  );

  it('says what is unreachable, where it looked and how to start it, and starts nothing', async () => {
    const port = await freePort();
    const { run: refused } = await start({ NATS_URL: `nats://127.0.0.1:${port}` });
    expect(await refused.exited).toBe(1);
    expect(refused.output().stderr).toContain(
      `Keyplane cannot start:\n  NATS (with JetStream) is not reachable at 127.0.0.1:${port}. Start it with:\n    start-stop-daemon --start`,
    );
    expect(refused.output().stdout).not.toContain('ready');
  }, START_TIMEOUT_MS);

  it('names a bad port before starting anything', async () => {
    const { run: refused } = await start({ KEYS_PORT: 'ninety' });
    expect(await refused.exited).toBe(1);
    expect(refused.output().stderr).toContain('Keyplane cannot start:\n  KEYS_PORT must be an integer between 1 and 65535, got "ninety"');
  }, START_TIMEOUT_MS);
});
