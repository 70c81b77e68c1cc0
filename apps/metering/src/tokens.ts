/** Injection tokens for what start.ts builds and hands to Nest. */
export const METERING_DB = Symbol('metering database');
export const METERING_LOGGER = Symbol('metering logger');
