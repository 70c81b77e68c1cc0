import { crudController } from '../crud/crud-controller.js';
import { FlowFields } from './flow.js';
import { FlowStore } from './flow-store.js';

export const FlowsController = crudController({ path: 'v1/flows', noun: 'Flow', idPrefix: 'flow', fields: FlowFields, store: FlowStore });
