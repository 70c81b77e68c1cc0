import type { ClientProxy } from '@nestjs/microservices';
import { serviceError, type Reply } from '@keyplane/contracts';

/**
 * Sends a request to a service and returns its Reply; a timeout or transport failure
 * becomes a 503 error, so callers fail closed without a try/catch of their own.
 *
 * The first value of `send`'s Observable, with a timer of our own: rxjs's `firstValueFrom`
 * and `timeout` build a chain of subscribers and a scheduled action per request, 3.5 % of the
 * gateway's CPU, which calls this on every request. Giving up unsubscribes, which takes the
 * request out of the client's waiting ones.
 */
export function request<T>(client: ClientProxy, subject: string, payload: unknown, timeoutMs: number, unavailable = 'Service unavailable'): Promise<Reply<T>> {
  return new Promise((resolve) => {
    let settled = false;
    const settle = (reply: Reply<T>) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      // A reply given while subscribe() runs comes before `subscription` is assigned: unsubscribe after it.
      queueMicrotask(() => subscription.unsubscribe());
      resolve(reply);
    };
    const failed = () => settle({ ok: false, error: serviceError(503, unavailable) });
    const timer = setTimeout(failed, timeoutMs);
    const subscription = client.send<Reply<T>>(subject, payload).subscribe({ next: settle, error: failed, complete: failed });
  });
}
