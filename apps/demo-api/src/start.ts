import type { DestinationStream } from 'pino';
import { createLogger, createMetricsRegistry, Readiness } from '@keyplane/observability';
import { bootstrapService, type ServiceHandle } from '@keyplane/runtime';
import type { DemoApiConfig } from './config.js';
import { DemoApiModule } from './demo-api.module.js';
import { answerRouterErrorsWithJson, MAX_PARAM_LENGTH } from './http/router-errors.js';

export interface DemoApiOptions {
  logDestination?: DestinationStream;
}

export async function startDemoApiService(config: DemoApiConfig, options: DemoApiOptions = {}): Promise<ServiceHandle> {
  const logger = createLogger('demo-api', { level: config.logLevel, destination: options.logDestination });
  // In-memory stores: nothing to wait for, so the service is ready as soon as it listens.
  const module = DemoApiModule.forRoot({ readiness: new Readiness(), registry: createMetricsRegistry('demo-api'), logger });
  return bootstrapService({ module, config, logger, frameworkErrors: answerRouterErrorsWithJson, maxParamLength: MAX_PARAM_LENGTH });
}
