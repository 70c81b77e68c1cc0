import { Module, type DynamicModule } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import type { Registry } from 'prom-client';
import { OpsModule, type Logger, type Readiness } from '@keyplane/observability';
import { AnalyticsController } from './analytics/analytics.controller.js';
import { FlowRunsController } from './flows/flow-runs.controller.js';
import { FlowsController } from './flows/flows.controller.js';
import { FlowStore, RunCounter } from './flows/flow-store.js';
import { ExactJsonContentType } from './http/exact-json-content-type.js';
import { JsonBodiesOnly } from './http/json-bodies-only.js';
import { JsonErrorsFilter } from './http/json-errors.filter.js';
import { LOGGER } from './http/logger.token.js';
import { PromptsController } from './prompts/prompts.controller.js';
import { PromptStore } from './prompts/prompt-store.js';
import { RecordsController } from './records/records.controller.js';
import { RecordStore } from './records/record-store.js';

export interface DemoApiModuleOptions {
  readiness: Readiness;
  registry: Registry;
  logger: Logger;
}

@Module({})
export class DemoApiModule {
  static forRoot({ readiness, registry, logger }: DemoApiModuleOptions): DynamicModule {
    return {
      module: DemoApiModule,
      imports: [OpsModule.forRoot(readiness, registry)],
      controllers: [FlowsController, FlowRunsController, RecordsController, PromptsController, AnalyticsController],
      providers: [
        FlowStore,
        RunCounter,
        RecordStore,
        PromptStore,
        ExactJsonContentType,
        JsonBodiesOnly,
        { provide: LOGGER, useValue: logger },
        { provide: APP_FILTER, useClass: JsonErrorsFilter },
      ],
    };
  }
}
