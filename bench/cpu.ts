import { readdirSync, readFileSync } from 'node:fs';

/** CPU time (user + system, in ms) of each named group of processes, read from /proc. */
export type CpuSample = Map<string, number>;

const TICK_MS = 10; // USER_HZ is 100 on Linux

function processCpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which is in parentheses and may hold spaces.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * TICK_MS;
  } catch {
    return 0;
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

/** Our services by pid, plus every nats-server and postgres process on the machine. */
export function sampleCpu(services: { name: string; pid: number }[]): CpuSample {
  const sample: CpuSample = new Map(services.map(({ name, pid }) => [name, processCpuMs(pid)]));
  for (const command of ['nats-server', 'postgres']) {
    sample.set(command, pidsNamed(command).reduce((sum, pid) => sum + processCpuMs(pid), 0));
  }
  return sample;
}

/** Microseconds of CPU each group spent per request between two samples. */
export function cpuPerRequest(before: CpuSample, after: CpuSample, requests: number): Record<string, number> {
  return Object.fromEntries(
    [...after].map(([name, ms]) => [name, Math.round(((ms - (before.get(name) ?? 0)) * 1000) / Math.max(1, requests))]),
  );
}
