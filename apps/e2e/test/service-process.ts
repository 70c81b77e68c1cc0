import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, TEST_NATS_URL, waitFor } from '@keyplane/testing';

// A service as its own process, started from the build as the container starts it, for what
// only a process shows: what it prints, how it exits, and that a SIGKILL loses what was in its
// memory and nothing else.

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

let built = false;
/** Builds once per file, as `npm run build` does (each file written whole, so a build beside another test's is safe). */
export function buildOnce(): void {
  if (built) return;
  execFileSync(process.execPath, [join(repoRoot, 'tools/build.js')], { cwd: repoRoot, stdio: 'pipe' });
  built = true;
}

export interface ServiceProcess {
  name: string;
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** stdout, then stderr. */
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** `node --import ./tools/register-paths.js dist/apps/<name>/src/main.js` with only `env` (and PATH, HOME). */
export function spawnService(name: string, env: Record<string, string>): ServiceProcess {
  const child = spawn(process.execPath, ['--import', './tools/register-paths.js', `dist/apps/${name}/src/main.js`], {
    cwd: repoRoot,
    // Only what is set here: no NODE_OPTIONS from Jest, no LOG_LEVEL from the shell.
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
  child.stderr!.on('data', (chunk: Buffer) => (err += chunk.toString('utf8')));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  return { name, child, stdout: () => out, stderr: () => err, output: () => out + err, exited };
}

export interface ListeningService extends ServiceProcess {
  /** Its `/healthz`, `/readyz` and `/metrics`. */
  url: string;
}

/** A service process on `port`, once its `/readyz` is 200. */
export async function startServiceProcess(name: string, port: number, env: Record<string, string>): Promise<ListeningService> {
  const proc = spawnService(name, { HTTP_HOST: '127.0.0.1', HTTP_PORT: String(port), ...env });
  const url = `http://127.0.0.1:${port}`;
  let gone = false;
  void proc.exited.then(() => (gone = true));
  const started = await waitFor(`${name} ready`, async () => (gone ? 'exited' : (await fetch(`${url}/readyz`).catch(() => undefined))?.status === 200 && 'ready'), 60_000, 100).catch(
    (error: unknown) => {
      proc.child.kill('SIGKILL');
      throw error;
    },
  );
  if (started === 'exited') throw new Error(`${name} exited during start-up:\n${proc.output()}`);
  return { ...proc, url };
}

export interface GatewayProcess extends ListeningService {
  /** Its internal port: `/metrics`, `/healthz`, `/readyz`. */
  metricsUrl: string;
}

/** The built gateway as its own process, on free ports, serving a stack's NATS namespace in front of `upstreamUrl`; `env` over that. */
export async function startGatewayProcess(natsPrefix: string, upstreamUrl: string, env: Record<string, string> = {}): Promise<GatewayProcess> {
  buildOnce();
  const [port, metricsPort] = [await freePort(), await freePort()];
  const gateway = await startServiceProcess('gateway', port, {
    NATS_URL: TEST_NATS_URL,
    NATS_PREFIX: natsPrefix,
    PORT: String(port),
    HOST: '127.0.0.1',
    METRICS_PORT: String(metricsPort),
    UPSTREAM_URL: upstreamUrl,
    // Generous, as in startStack: the whole suite shares 2 cores.
    AUTH_TIMEOUT_MS: '2000',
    ...env,
  });
  return { ...gateway, metricsUrl: `http://127.0.0.1:${metricsPort}` };
}
