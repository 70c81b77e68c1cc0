import { createLogger, exitOnFatalErrors } from '@keyplane/observability';
import { closeOnSignals, exitOnStartupFailure } from '@keyplane/runtime';
import { loadDemoApiConfig } from './config.js';
import { startDemoApiService } from './start.js';

const logger = createLogger('demo-api');
exitOnFatalErrors(logger);

try {
  const service = await startDemoApiService(loadDemoApiConfig(process.env));
  logger.info({ url: service.url }, 'demo-api listening');
  closeOnSignals(logger, service.close);
} catch (error) {
  exitOnStartupFailure(logger)(error);
}
