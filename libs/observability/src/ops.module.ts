import { Module, type DynamicModule } from '@nestjs/common';
import { Registry } from 'prom-client';
import { OpsController } from './ops.controller.js';
import { Readiness } from './readiness.js';

/** Gives a service its probes and metrics endpoint, and shares its Readiness and Registry. */
@Module({})
export class OpsModule {
  static forRoot(readiness: Readiness, registry: Registry): DynamicModule {
    return {
      module: OpsModule,
      global: true,
      controllers: [OpsController],
      providers: [
        { provide: Readiness, useValue: readiness },
        { provide: Registry, useValue: registry },
      ],
      exports: [Readiness, Registry],
    };
  }
}
