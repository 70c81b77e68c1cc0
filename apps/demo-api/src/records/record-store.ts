import { Injectable } from '@nestjs/common';
import { ResourceStore } from '../store/resource-store.js';
import type { DataRecord } from './record.js';

@Injectable()
export class RecordStore extends ResourceStore<DataRecord> {
  constructor() {
    super('records');
  }
}
