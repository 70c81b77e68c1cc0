import { execFile } from 'node:child_process';
import { Agent, request } from 'node:http';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { LoadResult } from './load.js';

export interface PacedLoadOptions {
  name: string;
  url: string;
  rate: number;
  durationSeconds: number;
  /** Sent in turn as bearer keys; none for the ceiling, which reads no header. */
  keys?: string[];
  /** Sent with every request (the demo API, called directly, reads its tenant from them). */
  headers?: Record<string, string>;
  /** Sent at the same rate before the measured `durationSeconds`, and not counted (1 s). */
  warmUpSeconds?: number;
}

const DEFAULT_WARM_UP_SECONDS = 1;

/** Every request a paced run sends, its uncounted warm-up included: what a CPU sample around it covers. */
export function pacedRequestsSent({ rate, durationSeconds, warmUpSeconds = DEFAULT_WARM_UP_SECONDS }: PacedLoadOptions): number {
  return rate * (warmUpSeconds + durationSeconds);
}

/**
 * An open-loop load at an even rate: request n leaves at n / rate seconds, whether or not
 * earlier ones have been answered, and its latency counts from then. (autocannon's
 * `overallRate` sends each second's quota as fast as it can, then pauses: bursts, not a rate.)
 *
 * The first `warmUpSeconds` are not counted, as wrk2 does not count its calibration: a run
 * starts without a connection, so its first requests each open one while the rest queue
 * behind them. In a traced run at 2,000 req/s, that start alone held most of the slowest 1 %
 * (up to 539 ms, all in the first 0.7 s).
 */
export async function runPacedLoad(options: PacedLoadOptions): Promise<LoadResult> {
  const { name, url, rate, keys = [], headers = {}, warmUpSeconds = DEFAULT_WARM_UP_SECONDS } = options;
  const agent = new Agent({ keepAlive: true, maxSockets: 256 });
  const target = new URL(url);
  const warmUpRequests = rate * warmUpSeconds;
  const total = pacedRequestsSent(options);
  const latencies: number[] = [];
  let non2xx = 0;
  let errors = 0;
  let sent = 0;
  const started = performance.now();
  const answered: Promise<void>[] = [];

  const send = (index: number) =>
    new Promise<void>((resolve) => {
      const due = started + (index * 1000) / rate;
      const req = request(
        { agent, host: target.hostname, port: target.port, path: target.pathname, headers: keys.length > 0 ? { ...headers, authorization: `Bearer ${keys[index % keys.length]}` } : headers },
        (res) => {
          res.resume();
          res.on('end', () => {
            if (index >= warmUpRequests) latencies.push(performance.now() - due);
            if (res.statusCode! < 200 || res.statusCode! >= 300) non2xx++;
            resolve();
          });
        },
      );
      req.on('error', () => {
        errors++;
        resolve();
      });
      req.end();
    });

  while (sent < total) {
    const due = Math.min(total, Math.floor(((performance.now() - started) * rate) / 1000) + 1);
    while (sent < due) answered.push(send(sent++));
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  await Promise.all(answered);
  agent.destroy();
  latencies.sort((a, b) => a - b);
  const at = (q: number) => Math.round(latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * q))] * 10) / 10;
  return { name, requestsPerSecond: Math.round(total / ((performance.now() - started) / 1000)), p50: at(0.5), p99: at(0.99), non2xx, errors };
}

/**
 * `runPacedLoad` in a fresh process of its own. The benchmark's own process has run autocannon
 * and reads the services' output, and a pause of its event loop counts as latency: the demo API
 * alone at an even 2,000 req/s gave a p99 of 9.5–23 ms paced from there, against 5.0–6.3 ms from
 * a process of its own (three alternated rounds, 2026-11-27).
 */
export async function runPacedLoadApart(options: PacedLoadOptions): Promise<LoadResult> {
  const script = fileURLToPath(new URL('./paced-load-process.js', import.meta.url));
  const { stdout } = await promisify(execFile)(process.execPath, [script, JSON.stringify(options)], { maxBuffer: 1 << 20 });
  return JSON.parse(stdout) as LoadResult;
}
