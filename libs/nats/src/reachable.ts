import type { NatsConnection } from '@nats-io/transport-node';

/** True when the server answers a ping within `timeoutMs`: a readiness check, not just "not closed". */
export async function natsReachable(nc: NatsConnection, timeoutMs = 1000): Promise<boolean> {
  if (nc.isClosed()) return false;
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs);
  });
  try {
    return await Promise.race([nc.flush().then(() => true, () => false), timedOut]);
  } finally {
    clearTimeout(timer);
  }
}
