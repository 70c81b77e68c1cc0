import { Module, type DynamicModule } from '@nestjs/common';
import type { Kysely } from 'kysely';
import type { Registry } from 'prom-client';
import { OpsModule, type Logger, type Readiness } from '@keyplane/observability';
import { KeyCommandHandler } from './commands/key-command-handler.js';
import { KeyCommandsController } from './commands/key-commands.controller.js';
import type { Database } from './db/schema.js';
import { KeysMetrics } from './metrics/keys-metrics.js';
import { KeyQueriesController } from './queries/key-queries.controller.js';
import { CLOCK, KEYS_DB, LOGGER, type Clock } from './tokens.js';

export interface KeysModuleOptions {
  db: Kysely<Database>;
  handler: KeyCommandHandler;
  metrics: KeysMetrics;
  logger: Logger;
  clock: Clock;
  readiness: Readiness;
  registry: Registry;
}

/** The root module, built by startKeysService with everything already connected. */
@Module({})
export class KeysModule {
  static forRoot({ db, handler, metrics, logger, clock, readiness, registry }: KeysModuleOptions): DynamicModule {
    return {
      module: KeysModule,
      imports: [OpsModule.forRoot(readiness, registry)],
      controllers: [KeyCommandsController, KeyQueriesController],
      providers: [
        { provide: KEYS_DB, useValue: db },
        { provide: KeyCommandHandler, useValue: handler },
        { provide: KeysMetrics, useValue: metrics },
        { provide: LOGGER, useValue: logger },
        { provide: CLOCK, useValue: clock },
      ],
    };
  }
}
