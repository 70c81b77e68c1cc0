import { createLogger, exitOnFatalErrors } from '@keyplane/observability';
import { closeOnSignals, exitOnStartupFailure } from '@keyplane/runtime';
import { loadAuthConfig } from './config.js';
import { startAuthService } from './start.js';

const logger = createLogger('auth');
exitOnFatalErrors(logger);
Promise.resolve()
  .then(() => startAuthService(loadAuthConfig(process.env)))
  .then((service) => closeOnSignals(logger, service.close), exitOnStartupFailure(logger));
