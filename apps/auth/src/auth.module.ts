import { Module, type DynamicModule } from '@nestjs/common';
import { OpsModule, type Logger, type Readiness } from '@keyplane/observability';
import type { Registry } from 'prom-client';
import { Authorizer } from './decide/authorizer.js';
import { AUTH_LOGGER, DecideController } from './decide/decide.controller.js';
import { DecideMetrics } from './decide/decide-metrics.js';
import { InFlight } from './decide/in-flight.js';
import { UsagePublisher } from './usage/usage-publisher.js';

export interface AuthModuleDeps {
  readiness: Readiness;
  registry: Registry;
  logger: Logger;
  authorizer: Authorizer;
  usage: UsagePublisher;
  inFlight: InFlight;
}

/** The root module; start.ts builds its collaborators (connections, view, publisher) and hands them in. */
@Module({})
export class AuthModule {
  static forRoot(deps: AuthModuleDeps): DynamicModule {
    return {
      module: AuthModule,
      imports: [OpsModule.forRoot(deps.readiness, deps.registry)],
      controllers: [DecideController],
      providers: [
        { provide: Authorizer, useValue: deps.authorizer },
        { provide: UsagePublisher, useValue: deps.usage },
        { provide: InFlight, useValue: deps.inFlight },
        { provide: DecideMetrics, useValue: new DecideMetrics(deps.registry) },
        { provide: AUTH_LOGGER, useValue: deps.logger },
      ],
    };
  }
}
