import { crudController } from '../crud/crud-controller.js';
import { RecordFields } from './record.js';
import { RecordStore } from './record-store.js';

export const RecordsController = crudController({ path: 'v1/records', noun: 'Record', idPrefix: 'rec', fields: RecordFields, store: RecordStore });
