export const LOGGER = Symbol('demo-api logger');
