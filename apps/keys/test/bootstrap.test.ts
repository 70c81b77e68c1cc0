import { generateKey, hashKey, parseKey } from '@keyplane/key-format';
import type { KeyEvent } from '@keyplane/contracts';
import { CapturedLogs, countEvents, dumpKeysSchema, keysTestEnv, streamMessages, type KeysTestEnv } from './support/harness.js';

const envs: KeysTestEnv[] = [];
async function freshEnv(): Promise<KeysTestEnv> {
  const env = await keysTestEnv('keys_bootstrap');
  envs.push(env);
  return env;
}

afterAll(async () => {
  for (const env of envs) await env.close();
});

const createdLines = (logs: CapturedLogs) =>
  logs.lines.map((line) => JSON.parse(line) as { msg: string; bootstrapAdminKey?: string; level: number }).filter((line) => line.msg === 'bootstrap admin key created');

describe('BOOTSTRAP_ADMIN_KEY', () => {
  it('makes sure that key exists, once, however many replicas start and restart', async () => {
    const env = await freshEnv();
    const admin = generateKey({ environment: 'live' }).key;
    const replicas = await Promise.all([env.start({ bootstrapAdminKey: admin }), env.start({ bootstrapAdminKey: admin })]);
    for (const replica of replicas) await env.stop(replica);
    await env.stop(await env.start({ bootstrapAdminKey: admin }));

    const rows = await env.db.selectFrom('api_keys').selectAll().execute();
    expect(rows).toEqual([
      expect.objectContaining({
        account_id: 'acc_root',
        name: 'bootstrap admin',
        environment: 'live',
        permissions: ['*'],
        rate_limit_hour: 1000,
        rate_limit_day: 10000,
        status: 'active',
        secret_hash: hashKey(admin),
        display_prefix: admin.slice(0, 12),
        last4: admin.slice(-4),
      }),
    ]);
    expect(await countEvents(env.db)).toBe(1);
    const [issued, ...more] = await streamMessages(env.nc, env.ns.streams.keyEvents);
    expect(more).toEqual([]);
    expect(issued.body).toMatchObject({ type: 'KeyIssued', keyId: rows[0].id, accountId: 'acc_root', actor: 'system' });
    expect(await dumpKeysSchema(env.db)).not.toContain(admin);
  });

  it('stops start-up on a malformed value with the reason, never the value', async () => {
    const env = await freshEnv();
    const key = generateKey({ environment: 'live' }).key;
    const typo = `${key.slice(0, 20)}${key[20] === 'a' ? 'b' : 'a'}${key.slice(21)}`;
    const error = await env.start({ bootstrapAdminKey: typo }).catch((e: Error) => e);
    expect(error).toEqual(new Error('BOOTSTRAP_ADMIN_KEY is not a valid live API key: key checksum does not match'));

    await expect(env.start({ bootstrapAdminKey: generateKey({ environment: 'test' }).key })).rejects.toThrow(
      new Error('BOOTSTRAP_ADMIN_KEY is not a valid live API key: key environment must be "live"'),
    );
  });
});

describe('without BOOTSTRAP_ADMIN_KEY', () => {
  it('generates an admin key on an empty store and logs it exactly once, across replicas and restarts', async () => {
    const env = await freshEnv();
    const first = [new CapturedLogs(), new CapturedLogs()];
    const replicas = await Promise.all(first.map((logs) => env.start({ bootstrapAdminKey: undefined }, { logDestination: logs })));
    for (const replica of replicas) await env.stop(replica);

    const lines = first.flatMap(createdLines);
    expect(lines).toHaveLength(1);
    expect(lines[0].level).toBe(30);
    const logged = lines[0].bootstrapAdminKey!;
    const parsed = parseKey(logged, { prefix: 'tv' });
    expect(parsed.ok && parsed.key.environment).toBe('live');

    const rows = await env.db.selectFrom('api_keys').selectAll().execute();
    expect(rows).toEqual([expect.objectContaining({ account_id: 'acc_root', name: 'bootstrap admin', permissions: ['*'], secret_hash: hashKey(logged) })]);
    const [issued] = (await streamMessages(env.nc, env.ns.streams.keyEvents)).map((m) => m.body as KeyEvent);
    expect(issued).toMatchObject({ type: 'KeyIssued', actor: 'system', accountId: 'acc_root' });
    expect(JSON.stringify(issued)).not.toContain(logged);

    const again = new CapturedLogs();
    await env.stop(await env.start({ bootstrapAdminKey: undefined }, { logDestination: again }));
    expect(createdLines(again)).toEqual([]);
    expect(again.text()).not.toContain(logged);
    expect(await countEvents(env.db)).toBe(1);
  });

  it('uses KEY_PREFIX for the generated key', async () => {
    const env = await freshEnv();
    const logs = new CapturedLogs();
    await env.stop(await env.start({ bootstrapAdminKey: undefined, keyPrefix: 'acme' }, { logDestination: logs }));
    const [line] = createdLines(logs);
    expect(line.bootstrapAdminKey).toMatch(/^acme_live_[0-9A-Za-z]{38}$/);
  });
});
