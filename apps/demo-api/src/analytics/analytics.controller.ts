import { Controller, Get, Inject } from '@nestjs/common';
import { FlowStore, RunCounter } from '../flows/flow-store.js';
import { PromptStore } from '../prompts/prompt-store.js';
import { RecordStore } from '../records/record-store.js';
import { CurrentTenant } from '../tenancy/current-tenant.decorator.js';
import type { Tenant } from '../tenancy/tenant.js';

@Controller('v1/analytics')
export class AnalyticsController {
  constructor(
    @Inject(FlowStore) private readonly flows: FlowStore,
    @Inject(RunCounter) private readonly runs: RunCounter,
    @Inject(RecordStore) private readonly records: RecordStore,
    @Inject(PromptStore) private readonly prompts: PromptStore,
  ) {}

  @Get()
  summary(@CurrentTenant() tenant: Tenant) {
    return {
      environment: tenant.environment,
      flows: this.flows.count(tenant),
      flowRuns: this.runs.count(tenant),
      records: this.records.count(tenant),
      prompts: this.prompts.count(tenant),
      generatedAt: new Date().toISOString(),
    };
  }
}
