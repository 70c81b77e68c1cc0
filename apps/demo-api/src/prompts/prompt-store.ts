import { Injectable } from '@nestjs/common';
import { ResourceStore } from '../store/resource-store.js';
import type { Prompt } from './prompt.js';

@Injectable()
export class PromptStore extends ResourceStore<Prompt> {
  constructor() {
    super('prompts');
  }
}
