import { Body, Controller, Delete, Get, HttpCode, Inject, Param, Patch, Post, Put, Res, type Type } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import type { z } from 'zod';
import { notFound } from '../http/api-error.js';
import { parseBody } from '../http/parse-body.js';
import type { ResourceStore } from '../store/resource-store.js';
import { newId } from '../store/new-id.js';
import { applyMergePatch, mergePatchSchema } from './merge-patch.js';
import { CurrentTenant } from '../tenancy/current-tenant.decorator.js';
import type { Tenant } from '../tenancy/tenant.js';

export type Stored<F extends z.ZodObject> = { id: string } & z.infer<F> & { createdAt: string; updatedAt: string };

export interface CrudSpec<F extends z.ZodObject> {
  /** Route prefix, e.g. `v1/flows`. */
  path: string;
  /** Names the resource in 404 details: `Flow flow_01J... not found`. */
  noun: string;
  idPrefix: string;
  /** The writable fields: the whole body of POST and PUT, any subset of them for PATCH (`null` removing an optional one). */
  fields: F;
  store: Type<ResourceStore<Stored<F>>>;
}

/** Flows, records and prompts share one REST shape; each resource folder supplies its fields. */
export function crudController<F extends z.ZodObject>(spec: CrudSpec<F>): Type<unknown> {
  const patchFields = mergePatchSchema(spec.fields);

  @Controller(spec.path)
  class CrudController {
    constructor(@Inject(spec.store) private readonly store: ResourceStore<Stored<F>>) {}

    @Get()
    list(@CurrentTenant() tenant: Tenant) {
      return { data: this.store.list(tenant) };
    }

    @Post()
    @HttpCode(201)
    create(@CurrentTenant() tenant: Tenant, @Body() body: unknown, @Res({ passthrough: true }) reply: FastifyReply) {
      const fields = parseBody(spec.fields, body);
      const now = new Date().toISOString();
      const created = this.store.put(tenant, { id: newId(spec.idPrefix), ...fields, createdAt: now, updatedAt: now } as Stored<F>);
      // The gateway forwards the path it matched unchanged, so this is also the client's path.
      void reply.header('location', `/${spec.path}/${created.id}`);
      return created;
    }

    @Get(':id')
    get(@CurrentTenant() tenant: Tenant, @Param('id') id: string) {
      return this.existing(tenant, id);
    }

    @Put(':id')
    replace(@CurrentTenant() tenant: Tenant, @Param('id') id: string, @Body() body: unknown) {
      const { createdAt } = this.existing(tenant, id);
      const fields = parseBody(spec.fields, body);
      return this.store.put(tenant, { id, ...fields, createdAt, updatedAt: new Date().toISOString() } as Stored<F>);
    }

    @Patch(':id')
    update(@CurrentTenant() tenant: Tenant, @Param('id') id: string, @Body() body: unknown) {
      const current = this.existing(tenant, id);
      const changes = parseBody(patchFields, body);
      return this.store.put(tenant, { ...applyMergePatch(current, changes), updatedAt: new Date().toISOString() });
    }

    @Delete(':id')
    remove(@CurrentTenant() tenant: Tenant, @Param('id') id: string) {
      this.existing(tenant, id);
      this.store.delete(tenant, id);
      return { id, deleted: true };
    }

    private existing(tenant: Tenant, id: string): Stored<F> {
      const item = this.store.get(tenant, id);
      if (!item) throw notFound(`${spec.noun} ${id} not found`);
      return item;
    }
  }

  return CrudController;
}
