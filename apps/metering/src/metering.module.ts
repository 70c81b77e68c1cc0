import { Module, type DynamicModule } from '@nestjs/common';
import type { Kysely } from 'kysely';
import type { Registry } from 'prom-client';
import { OpsModule, type Logger, type Readiness } from '@keyplane/observability';
import type { Database } from './db/schema.js';
import { MeteringQueriesController } from './queries/metering-queries.controller.js';
import { METERING_DB, METERING_LOGGER } from './tokens.js';

export interface MeteringModuleDeps {
  db: Kysely<Database>;
  logger: Logger;
  readiness: Readiness;
  registry: Registry;
}

@Module({})
export class MeteringModule {
  static forRoot({ db, logger, readiness, registry }: MeteringModuleDeps): DynamicModule {
    return {
      module: MeteringModule,
      imports: [OpsModule.forRoot(readiness, registry)],
      controllers: [MeteringQueriesController],
      providers: [
        { provide: METERING_DB, useValue: db },
        { provide: METERING_LOGGER, useValue: logger },
      ],
    };
  }
}
