import { Body, Controller, HttpCode, Inject, Param, Post } from '@nestjs/common';
import { notFound } from '../http/api-error.js';
import { parseBody } from '../http/parse-body.js';
import { newId } from '../store/new-id.js';
import { CurrentTenant } from '../tenancy/current-tenant.decorator.js';
import type { Tenant } from '../tenancy/tenant.js';
import { ExecuteFlowBody } from './flow.js';
import { FlowStore, RunCounter } from './flow-store.js';
import { runFlow } from './run-flow.js';

@Controller('v1/flows')
export class FlowRunsController {
  constructor(
    @Inject(FlowStore) private readonly flows: FlowStore,
    @Inject(RunCounter) private readonly runs: RunCounter,
  ) {}

  @Post(':id/execute')
  @HttpCode(200)
  execute(@CurrentTenant() tenant: Tenant, @Param('id') id: string, @Body() body: unknown) {
    const flow = this.flows.get(tenant, id);
    if (!flow) throw notFound(`Flow ${id} not found`);
    const run = runFlow(flow, parseBody(ExecuteFlowBody, body), { id: newId('run'), now: new Date() });
    this.runs.add(tenant);
    return run;
  }
}
