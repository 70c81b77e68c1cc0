import { readdirSync, readFileSync } from 'node:fs';

/** What a group of processes has used so far: CPU time (user + system) and read/write system calls. */
interface Usage {
  cpuMs: number;
  reads: number;
  writes: number;
}

/** Usage of each named group of processes, read from /proc. */
export type UsageSample = Map<string, Usage>;

/** Per request, for one group: CPU in µs, and write and read system calls (mostly socket I/O here). */
export interface UsagePerRequest {
  cpuUs: number;
  writes: number;
  reads: number;
}

const TICK_MS = 10; // USER_HZ is 100 on Linux
const NONE: Usage = { cpuMs: 0, reads: 0, writes: 0 };

function processUsage(pid: number): Usage {
  return { cpuMs: processCpuMs(pid), ...processSyscalls(pid) };
}

function processCpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which is in parentheses and may hold spaces.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime + stime, plus cutime + cstime: what its reaped children used. A Postgres backend
    // whose pool connection closed between two samples is gone from /proc; only the
    // postmaster's cutime still holds its CPU, which would otherwise drop out of the delta.
    return (Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14])) * TICK_MS;
  } catch {
    return 0;
  }
}

/** Read separately: /proc/<pid>/io of another user's process (postgres) needs root, its stat does not. */
function processSyscalls(pid: number): Pick<Usage, 'reads' | 'writes'> {
  try {
    const io = new Map(
      readFileSync(`/proc/${pid}/io`, 'utf8')
        .trim()
        .split('\n')
        .map((line) => line.split(': ') as [string, string]),
    );
    return { reads: Number(io.get('syscr')), writes: Number(io.get('syscw')) };
  } catch {
    return { reads: 0, writes: 0 };
  }
}

function pidsNamed(command: string): number[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === command;
      } catch {
        return false;
      }
    })
    .map(Number);
}

const sum = (usages: Usage[]): Usage =>
  usages.reduce((total, usage) => ({ cpuMs: total.cpuMs + usage.cpuMs, reads: total.reads + usage.reads, writes: total.writes + usage.writes }), NONE);

/**
 * Our services by pid, plus every nats-server and postgres process on the machine. System calls
 * of a process that exited between samples are not counted (/proc keeps no children's io).
 */
export function sampleUsage(services: { name: string; pid: number }[]): UsageSample {
  const sample: UsageSample = new Map(services.map(({ name, pid }) => [name, processUsage(pid)]));
  for (const command of ['nats-server', 'postgres']) sample.set(command, sum(pidsNamed(command).map(processUsage)));
  return sample;
}

/** What each group used per request between two samples; groups that used nothing are left out. */
export function usagePerRequest(before: UsageSample, after: UsageSample, requests: number): Record<string, UsagePerRequest> {
  const per = (value: number) => value / Math.max(1, requests);
  const result: Record<string, UsagePerRequest> = {};
  for (const [name, now] of after) {
    const then = before.get(name) ?? NONE;
    const cpuUs = Math.round(per((now.cpuMs - then.cpuMs) * 1000));
    // A group's calls can drop when one of its processes exits (its io goes with it): at least 0.
    if (cpuUs > 0) result[name] = { cpuUs, writes: per(Math.max(0, now.writes - then.writes)), reads: per(Math.max(0, now.reads - then.reads)) };
  }
  return result;
}
