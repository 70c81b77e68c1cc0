import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { createInterface } from 'node:readline';
import type { ServiceSpec } from './services.js';

export interface Running {
  spec: ServiceSpec;
  child: ChildProcess;
  exited: Promise<number | null>;
}

const WARN = 40;
/** Fields a service prints for the terminal alone: the secret of a bootstrap admin key generated on an empty store. */
const SHOWN_ONCE = ['bootstrapAdminKey'];

/**
 * Starts one service as its own process. Every log line goes to logs/<name>.log, without the
 * fields that are shown once; warnings and errors are also echoed to the terminal, and
 * `onLine` sees each parsed line whole.
 */
export function startProcess(spec: ServiceSpec, logDir: string, onLine: (line: Record<string, unknown>) => void): Running {
  mkdirSync(logDir, { recursive: true });
  const file = createWriteStream(`${logDir}/${spec.name}.log`, { flags: 'a' });
  const child = spawn(process.execPath, [...(spec.nodeArgs ?? []), '--import', './tools/register-paths.js', spec.main], {
    env: { ...process.env, ...spec.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  for (const stream of [child.stdout, child.stderr]) {
    createInterface({ input: stream! }).on('line', (text) => {
      let line: Record<string, unknown> | undefined;
      try {
        line = JSON.parse(text) as Record<string, unknown>;
      } catch {
        line = undefined;
      }
      file.write(`${line ? forTheLogFile(line, text) : text}\n`);
      if (line) onLine(line);
      if (!line || Number(line.level) >= WARN) {
        process.stderr.write(`[${spec.name}] ${line ? String(line.msg) : text}\n`);
      }
    });
  }
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { spec, child, exited };
}

function forTheLogFile(line: Record<string, unknown>, text: string): string {
  const shown = SHOWN_ONCE.filter((field) => field in line);
  if (shown.length === 0) return text;
  return JSON.stringify({ ...line, ...Object.fromEntries(shown.map((field) => [field, '[shown once on the terminal]'])) });
}

export async function waitReady(running: Running, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let gone = false;
  void running.exited.then(() => (gone = true));
  while (Date.now() < deadline) {
    if (gone) throw new Error(`${running.spec.name} exited during start-up (see its log)`);
    try {
      const response = await fetch(`http://127.0.0.1:${running.spec.readyPort}/readyz`);
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`${running.spec.name} was not ready after ${timeoutMs / 1000} s (see its log)`);
}

/** SIGTERM in reverse start order, so the gateway stops taking requests before the services behind it. */
export async function stopAll(running: Running[]): Promise<void> {
  for (const service of [...running].reverse()) {
    if (service.child.exitCode === null) service.child.kill('SIGTERM');
    const timer = setTimeout(() => service.child.kill('SIGKILL'), 10_000);
    await service.exited;
    clearTimeout(timer);
  }
}
