import { Injectable } from '@nestjs/common';
import { ResourceStore } from '../store/resource-store.js';
import type { Flow, FlowRun } from './flow.js';

@Injectable()
export class FlowStore extends ResourceStore<Flow> {}

@Injectable()
export class RunStore extends ResourceStore<FlowRun> {}
