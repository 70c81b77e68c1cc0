export * from './fresh-database.js';
export * from './fresh-namespace.js';
export * from './wait-for.js';
export * from './captured-logs.js';
export * from './free-port.js';
export * from './usage-event.js';
