import { DEFAULT_PREFIX, isValidPrefix } from '@keyplane/key-format';
import { EnvReader, readCommonConfig, readDatabaseConfig, type CommonConfig, type DatabaseConfig } from '@keyplane/runtime';

export interface KeysConfig extends CommonConfig, DatabaseConfig {
  /** The `{prefix}` of generated keys (DESIGN §3). */
  keyPrefix: string;
  /** A live key the service makes sure exists as the root admin (DESIGN §7). */
  bootstrapAdminKey?: string;
}

export function loadKeysConfig(env: NodeJS.ProcessEnv = process.env): KeysConfig {
  const read = new EnvReader(env);
  const keyPrefix = read.string('KEY_PREFIX', DEFAULT_PREFIX);
  if (!isValidPrefix(keyPrefix)) throw new Error(`KEY_PREFIX must be 1-16 lowercase letters or digits, got ${JSON.stringify(keyPrefix)}`);
  return {
    ...readCommonConfig(read, 9081),
    ...readDatabaseConfig(read),
    keyPrefix,
    bootstrapAdminKey: read.optional('BOOTSTRAP_ADMIN_KEY'),
  };
}
