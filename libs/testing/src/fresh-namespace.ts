import { randomBytes } from 'node:crypto';
import { namespace, type Namespace } from '@keyplane/contracts';
import { connectNats, deleteStreams } from '@keyplane/nats';

export const TEST_NATS_URL = process.env.TEST_NATS_URL ?? 'nats://127.0.0.1:4222';

export interface FreshNamespace {
  ns: Namespace;
  /** Deletes the namespace's JetStream streams. */
  cleanup(): Promise<void>;
}

/** A NATS subject prefix and stream names of its own for one test file. */
export function freshNamespace(): FreshNamespace {
  const ns = namespace(`t${randomBytes(5).toString('hex')}`);
  return {
    ns,
    async cleanup() {
      const nc = await connectNats({ url: TEST_NATS_URL, name: 'test-cleanup' });
      await deleteStreams(nc, Object.values(ns.streams));
      await nc.close();
    },
  };
}
