import { sql, type Kysely } from 'kysely';
import { fingerprint, generateKey, type KeyFingerprint } from '@keyplane/key-format';
import type { Logger } from '@keyplane/observability';
import type { KeyCommandHandler } from '../commands/key-command-handler.js';
import type { Database } from '../db/schema.js';
import { newKeyId } from '../ids.js';
import { SYSTEM } from '../key/commands.js';
import { secretInUse } from '../read-model/secret-in-use.js';
import { secretEverHeld } from './secret-ever-held.js';

export const BOOTSTRAP_ACCOUNT = 'acc_root';

export interface BootstrapAdminOptions {
  db: Kysely<Database>;
  handler: KeyCommandHandler;
  logger: Logger;
  keyPrefix: string;
  /** From BOOTSTRAP_ADMIN_KEY, already checked. */
  configured: KeyFingerprint | undefined;
}

/**
 * DESIGN §7: make sure an admin key exists. Replicas starting together take turns under an
 * advisory lock, so the check and the issue are one step and a generated key is made (and
 * printed) exactly once.
 */
export async function ensureBootstrapAdmin({ db, handler, logger, keyPrefix, configured }: BootstrapAdminOptions): Promise<void> {
  await db.connection().execute(async (lockHolder) => {
    await sql`select pg_advisory_lock(hashtext('keys.bootstrap-admin'))`.execute(lockHolder);
    try {
      if (configured) {
        // Also present when it was rotated out (however long ago) or revoked since: an operator's decision is not undone by a restart.
        if ((await secretInUse(db, configured.secretHash)) || (await secretEverHeld(db, BOOTSTRAP_ACCOUNT, configured.secretHash))) return;
        const keyId = await issueAdmin(handler, configured);
        logger.info({ keyId }, 'bootstrap admin key issued from BOOTSTRAP_ADMIN_KEY');
        return;
      }
      if (await anyKeyExists(db)) return;
      const generated = generateKey({ prefix: keyPrefix, environment: 'live' });
      const keyId = await issueAdmin(handler, fingerprint(generated.key));
      // The one time a secret is logged on purpose: nobody else could learn the first admin key.
      // Not under `key`, which the logger redacts.
      logger.info({ keyId, bootstrapAdminKey: generated.key }, 'bootstrap admin key created');
    } finally {
      await sql`select pg_advisory_unlock(hashtext('keys.bootstrap-admin'))`.execute(lockHolder);
    }
  });
}

async function issueAdmin(handler: KeyCommandHandler, secret: KeyFingerprint): Promise<string> {
  const keyId = newKeyId();
  const outcome = await handler.execute(keyId, (metadata) => ({
    type: 'IssueKey',
    data: { keyId, accountId: BOOTSTRAP_ACCOUNT, actor: SYSTEM, name: 'bootstrap admin', environment: 'live', permissions: ['*'], secret },
    metadata,
  }));
  if (!outcome.ok) throw new Error(`bootstrap admin key could not be issued: ${outcome.error.details}`);
  return keyId;
}

async function anyKeyExists(db: Kysely<Database>): Promise<boolean> {
  return (await db.selectFrom('api_keys').select('id').limit(1).executeTakeFirst()) !== undefined;
}
