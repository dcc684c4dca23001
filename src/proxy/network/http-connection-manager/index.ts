export { HttpConnectionManagerFactory, type HttpConnectionManagerOptions } from './http-connection-manager-factory.ts';
export { HttpConnectionManager } from './http-connection-manager.ts';
export { parseHcmConfig, type HcmConfig, type ParsedHttpFilter } from './hcm-config.ts';
