export * from './logger.js';
export * from './nest-logger.js';
export * from './readiness.js';
export * from './metrics.js';
export * from './ops.controller.js';
export * from './ops.module.js';
export * from './fatal-errors.js';
export * from './throttled.js';
