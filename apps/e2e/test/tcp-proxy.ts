import { connect, createServer, type Server, type Socket } from 'node:net';
import { freePort, TEST_NATS_URL } from '@keyplane/testing';

// Outages of the shared Postgres or NATS, seen by one service without touching the server: the
// service reaches it through a forwarder of its own that a test cuts, restores, slows or stalls.

type Direction = 'to-server' | 'to-client';
export type StallTrigger = (chunk: Buffer, direction: Direction) => boolean;

/** A TCP forwarder that can be cut (refuse and drop connections), restored, and slowed (every byte held `delayMs`, in order). */
export class TcpProxy {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  delayMs = 0;
  /** While true, every byte is held (a network partition: connections stay open, nothing moves) until release(). */
  private holding = false;
  private readonly flushers = new Set<() => void>();
  private trigger: { when: StallTrigger; fired: () => void } | undefined;

  stall(): void {
    this.holding = true;
  }

  /**
   * Stalls, as stall() does, from the first chunk either way that `when` picks, that chunk held
   * too; resolves then. A stall at an exact point of a conversation: picking the server's answer
   * to a COMMIT, the server has committed what the service hears of only after release().
   */
  stallWhen(when: StallTrigger): Promise<void> {
    return new Promise((resolve) => {
      this.trigger = { when, fired: resolve };
    });
  }

  /** Lets everything held through, in order, and forgets a stallWhen() that has not fired. */
  release(): void {
    this.trigger = undefined;
    this.holding = false;
    for (const flush of this.flushers) flush();
  }

  private constructor(
    readonly port: number,
    private readonly targetHost: string,
    private readonly targetPort: number,
  ) {}

  static async start(targetHost: string, targetPort: number): Promise<TcpProxy> {
    const proxy = new TcpProxy(await freePort(), targetHost, targetPort);
    await proxy.open();
    return proxy;
  }

  private pipe(from: Socket, to: Socket, direction: Direction): void {
    const queue: { at: number; chunk: Buffer }[] = [];
    let timer: NodeJS.Timeout | undefined;
    const pump = () => {
      if (timer) clearTimeout(timer);
      timer = undefined;
      if (this.holding) return;
      const now = Date.now();
      while (queue.length > 0 && queue[0]!.at <= now) {
        const { chunk } = queue.shift()!;
        if (!to.destroyed) to.write(chunk);
      }
      if (queue.length > 0) timer = setTimeout(pump, queue[0]!.at - now);
    };
    const flush = () => {
      for (const item of queue) item.at = 0;
      pump();
    };
    this.flushers.add(flush);
    from.on('data', (chunk: Buffer) => {
      if (this.trigger?.when(chunk, direction)) {
        this.trigger.fired();
        this.trigger = undefined;
        this.holding = true;
      }
      if (!this.holding && this.delayMs === 0 && queue.length === 0) {
        if (!to.destroyed) to.write(chunk);
        return;
      }
      const last = queue.length > 0 ? queue[queue.length - 1]!.at : 0;
      queue.push({ at: Math.max(Date.now() + this.delayMs, last), chunk });
      if (!timer && !this.holding) timer = setTimeout(pump, Math.max(0, queue[0]!.at - Date.now()));
    });
    from.on('close', () => {
      if (timer) clearTimeout(timer);
      this.flushers.delete(flush);
      queue.length = 0;
      to.destroy();
    });
  }

  async open(): Promise<void> {
    const server = createServer((client) => {
      const upstream = connect(this.targetPort, this.targetHost);
      for (const socket of [client, upstream]) {
        this.sockets.add(socket);
        socket.on('close', () => this.sockets.delete(socket));
        socket.on('error', () => {
          client.destroy();
          upstream.destroy();
        });
      }
      this.pipe(client, upstream, 'to-server');
      this.pipe(upstream, client, 'to-client');
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.server = server;
  }

  async cut(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const socket of this.sockets) socket.destroy();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

/** The shared servers the forwarders lead to. */
export const SHARED_POSTGRES = new URL((process.env.TEST_DATABASE_SERVER ?? 'postgres://postgres@127.0.0.1:5432').replace(/\/$/, ''));
export const SHARED_NATS = new URL(TEST_NATS_URL.replace(/^nats:/, 'http:'));

/** `url` with its port replaced: a service's connection string through a forwarder. */
export function withPort(url: string, port: number): string {
  const u = new URL(url);
  u.port = String(port);
  return u.toString().replace(/\/$/, '');
}
