import { crudController } from '../crud/crud-controller.js';
import { PromptFields } from './prompt.js';
import { PromptStore } from './prompt-store.js';

export const PromptsController = crudController({ path: 'v1/prompts', noun: 'Prompt', idPrefix: 'prompt', fields: PromptFields, store: PromptStore });
