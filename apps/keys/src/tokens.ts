// Injection tokens for values the root module is built with.
export const KEYS_DB = Symbol('KEYS_DB');
export const LOGGER = Symbol('LOGGER');
export const CLOCK = Symbol('CLOCK');

export type Clock = () => Date;
