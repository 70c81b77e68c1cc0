export * from './connect.js';
export * from './prefixed-nats-server.js';
export * from './streams.js';
export * from './request.js';
export * from './codec.js';
export * from './reachable.js';
export * from './request-mux.js';
export * from './stream-publish.js';
