import { Module, type DynamicModule } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { Readiness, type Logger } from '@keyplane/observability';
import { AuthDecider } from './authentication/auth-decider.js';
import type { GatewayConfig } from './config.js';
import { KeysClient } from './management/keys-client.js';
import { ManagementApi } from './management/management-api.js';
import { AlertsHandler } from './metering/alerts.handler.js';
import { LastUsedFiller } from './metering/last-used.js';
import { MeteringClient } from './metering/metering-client.js';
import { UsageEventsHandler } from './metering/usage-events.handler.js';
import { UsageHandler } from './metering/usage.handler.js';
import { NatsConnection, natsClientProvider } from './messaging/nats-client.js';
import { GatewayMetrics } from './ops/gateway-metrics.js';
import { GatewayHttp } from './pipeline/gateway-http.js';
import { JsonExceptionFilter } from './pipeline/json-exception.filter.js';
import { RouteMatcher } from './routes/route-matcher.js';
import type { RouteDefinition } from './routes/route-table.js';
import { GATEWAY_CONFIG, LOGGER } from './tokens.js';

export interface GatewayModuleOptions {
  config: GatewayConfig;
  routes: RouteDefinition[];
  logger: Logger;
  readiness: Readiness;
  metrics: GatewayMetrics;
}

@Module({})
export class GatewayModule {
  static forRoot({ config, routes, logger, readiness, metrics }: GatewayModuleOptions): DynamicModule {
    return {
      module: GatewayModule,
      providers: [
        { provide: GATEWAY_CONFIG, useValue: config },
        { provide: LOGGER, useValue: logger },
        { provide: Readiness, useValue: readiness },
        { provide: GatewayMetrics, useValue: metrics },
        { provide: RouteMatcher, useValue: new RouteMatcher(routes) },
        natsClientProvider,
        NatsConnection,
        AuthDecider,
        KeysClient,
        MeteringClient,
        LastUsedFiller,
        UsageHandler,
        UsageEventsHandler,
        AlertsHandler,
        ManagementApi,
        GatewayHttp,
        { provide: APP_FILTER, useClass: JsonExceptionFilter },
      ],
    };
  }
}
