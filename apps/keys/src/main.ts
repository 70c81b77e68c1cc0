import { createLogger, exitOnFatalErrors } from '@keyplane/observability';
import { closeOnSignals, exitOnStartupFailure } from '@keyplane/runtime';
import { loadKeysConfig } from './config.js';
import { startKeysService } from './start.js';

const logger = createLogger('keys');
exitOnFatalErrors(logger);

try {
  const config = loadKeysConfig(process.env);
  const service = await startKeysService(config);
  closeOnSignals(logger, service.close);
} catch (error) {
  exitOnStartupFailure(logger)(error);
}
