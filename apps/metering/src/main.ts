import { createLogger, exitOnFatalErrors } from '@keyplane/observability';
import { closeOnSignals, exitOnStartupFailure } from '@keyplane/runtime';
import { loadMeteringConfig } from './config.js';
import { startMeteringService } from './start.js';

const logger = createLogger('metering');
exitOnFatalErrors(logger);
const failed = exitOnStartupFailure(logger);

try {
  const handle = await startMeteringService(loadMeteringConfig(process.env));
  closeOnSignals(logger, handle.close);
} catch (error) {
  failed(error);
}
