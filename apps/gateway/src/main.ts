import { createLogger, exitOnFatalErrors } from '@keyplane/observability';
import { closeOnSignals, exitOnStartupFailure } from '@keyplane/runtime';
import { loadGatewayConfig } from './config.js';
import { startGatewayService } from './start.js';

const logger = createLogger('gateway');
exitOnFatalErrors(logger);
void Promise.resolve()
  .then(() => startGatewayService(loadGatewayConfig(process.env)))
  .then((gateway) => {
    logger.info({ url: gateway.url, metricsUrl: gateway.metricsUrl }, 'gateway listening');
    closeOnSignals(logger, gateway.close);
  }, exitOnStartupFailure(logger));
