import { createLogger } from '@keyplane/observability';
import { closeOnSignals, exitOnStartupFailure } from '@keyplane/runtime';
import { loadAuthConfig } from './config.js';
import { startAuthService } from './start.js';

const logger = createLogger('auth');
Promise.resolve()
  .then(() => startAuthService(loadAuthConfig(process.env)))
  .then((service) => closeOnSignals(logger, service.close), exitOnStartupFailure(logger));
