export * from './discovery.ts';
export * from './core.ts';
export * from './tls.ts';
export * from './cluster.ts';
export * from './endpoint.ts';
export * from './route.ts';
export * from './http-connection-manager.ts';
export * from './listener.ts';
