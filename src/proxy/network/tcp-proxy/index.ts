export { TcpProxyFactory } from './tcp-proxy-factory.ts';
export { TcpProxyFilter } from './tcp-proxy-filter.ts';
export { parseTcpProxy, DEFAULT_IDLE_TIMEOUT_MS, type TcpProxyConfig, type TcpProxyTarget } from './tcp-proxy-config.ts';
