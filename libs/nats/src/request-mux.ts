import { createInbox, type Msg, type MsgHdrs, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import { inboxPrefixOf } from './inbox-prefix.js';

export interface MuxRequestOptions {
  timeoutMs: number;
  headers?: MsgHdrs;
}

/** A request in flight: its reply, and a way to stop waiting for it before `timeoutMs`. */
export interface MuxRequest {
  reply: Promise<Msg>;
  /** Rejects `reply` at once (if it has not settled) and frees its slot and timer. */
  cancel(): void;
}

interface Pending {
  resolve: (msg: Msg) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

/** No answer in time, nobody subscribed to the subject (NATS's 503 status), cancelled, or closed. */
export class MuxRequestError extends Error {}

/**
 * Request/reply over one wildcard reply subscription per connection, like `nc.request`, for
 * the paths taken on every API request. nats.js's own request builds an Error (with a stack)
 * to settle every request that already succeeded, plus a deferred, a timer and a
 * `Promise.race`; measured, that was 3 % of the gateway's CPU and 5 % of auth's.
 */
export class RequestMux {
  private readonly pending = new Map<string, Pending>();
  private inbox = '';
  private subscription: Subscription | undefined;
  private closed = false;
  private next = 0;

  constructor(private readonly nc: NatsConnection) {
    this.listen();
  }

  request(subject: string, data: Uint8Array, options: MuxRequestOptions): Promise<Msg> {
    return this.send(subject, data, options).reply;
  }

  /** As `request`, for a caller that may give up first: a request it forgets would hold its timer until `timeoutMs`. */
  send(subject: string, data: Uint8Array, { timeoutMs, headers }: MuxRequestOptions): MuxRequest {
    const token = (this.next++).toString(36);
    const reply = new Promise<Msg>((resolve, reject) => {
      const timer = setTimeout(() => this.fail(token, new MuxRequestError(`no reply on ${subject} within ${timeoutMs} ms`)), timeoutMs);
      this.pending.set(token, { resolve, reject, timer });
      try {
        if (!this.subscription && !this.closed) this.listen();
        this.nc.publish(subject, data, { reply: this.inbox + token, headers });
      } catch (error) {
        this.fail(token, error as Error);
      }
    });
    return {
      reply,
      cancel: () => {
        if (this.pending.has(token)) this.fail(token, new MuxRequestError(`request on ${subject} cancelled`));
      },
    };
  }

  /** Requests sent and not yet settled. */
  get waiting(): number {
    return this.pending.size;
  }

  /** Stops listening for replies and fails every request still waiting, at once. */
  close(): void {
    this.closed = true;
    this.subscription?.unsubscribe();
    for (const token of [...this.pending.keys()]) this.fail(token, new MuxRequestError('connection closed'));
  }

  /** One reply subscription, under the connection's own inbox prefix: the only inboxes its NATS user may read. */
  private listen(): void {
    this.inbox = `${createInbox(inboxPrefixOf(this.nc))}.`;
    const subscription = this.nc.subscribe(`${this.inbox}*`, {
      callback: (error, msg) => (error ? this.refused(subscription, error) : this.settle(msg)),
    });
    this.subscription = subscription;
  }

  /**
   * The server refused the reply subscription (its NATS user may not read this inbox) and nats.js
   * dropped it: the requests waiting on it fail at once, with the server's reason, not at their
   * timeout, and the next request subscribes again, so a corrected server config needs no restart.
   * (Reading a reply out of the error's empty message would throw inside nats.js's reader and
   * leave the whole connection deaf until its ping check gave up on it.)
   */
  private refused(subscription: Subscription, error: Error): void {
    if (subscription !== this.subscription) return;
    this.subscription = undefined;
    for (const token of [...this.pending.keys()]) this.fail(token, new MuxRequestError(`no reply can arrive: ${error.message}`));
  }

  private settle(msg: Msg): void {
    const token = msg.subject.slice(this.inbox.length);
    const pending = this.pending.get(token);
    if (!pending) return;
    this.pending.delete(token);
    clearTimeout(pending.timer);
    // With headers on, the server answers a request nobody listens to with a bare 503 status.
    if (msg.headers?.code === 503 && msg.data.length === 0) pending.reject(new MuxRequestError(`no responders on ${msg.subject}`));
    else pending.resolve(msg);
  }

  private fail(token: string, error: Error): void {
    const pending = this.pending.get(token);
    if (!pending) return;
    this.pending.delete(token);
    clearTimeout(pending.timer);
    pending.reject(error);
  }
}
