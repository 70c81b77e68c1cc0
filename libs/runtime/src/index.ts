export * from './env.js';
export * from './bootstrap.js';
export * from './signals.js';
export * from './ulid.js';
export * from './wakeable-loop.js';
export * from './or-after.js';
export * from './get-or-create.js';
export * from './framework-errors.js';
