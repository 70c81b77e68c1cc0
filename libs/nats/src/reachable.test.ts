import { connectNats } from './connect.js';
import { natsReachable } from './reachable.js';

const url = process.env.TEST_NATS_URL ?? 'nats://127.0.0.1:4222';

describe('natsReachable', () => {
  it('is true while the server answers, false once the connection is closed', async () => {
    const nc = await connectNats({ url, name: 'reachable-test' });
    expect(await natsReachable(nc)).toBe(true);
    await nc.close();
    expect(await natsReachable(nc)).toBe(false);
  });
});
