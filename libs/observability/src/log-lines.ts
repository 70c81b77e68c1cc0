import { Writable } from 'node:stream';

/**
 * A log destination that keeps every line in memory: what a test hands `createLogger` to read
 * back what a service logged (and search it for a secret that must not be there).
 */
export class LogLines extends Writable {
  readonly lines: string[] = [];

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: () => void): void {
    this.lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
    done();
  }

  text(): string {
    return this.lines.join('\n');
  }

  /** Each line parsed: pino writes one JSON object a line. */
  records(): Record<string, unknown>[] {
    return this.lines.map((line) => JSON.parse(line) as Record<string, unknown>);
  }
}
