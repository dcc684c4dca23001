export { ListenerManager, DEFAULT_DRAIN_TIME_MS, type BindAddress, type ListenerManagerOptions } from './listener-manager.ts';
export { compileListener, DEFAULT_LISTENER_FILTERS_TIMEOUT_MS, type CompiledChain, type CompiledListener } from './compile-listener.ts';
export { FilterChainMatcher, filterChainMatchProblems, type ConnectionFacts } from './filter-chain-matcher.ts';
export {
  loadOriginalDestination, localAddressDestination, unmapIpv4, ORIGINAL_DST_ADDON_PATH, type Destination, type OriginalDestination,
} from './original-destination.ts';
export { sniffConnection, RAW_BUFFER, type Sniffed, type SniffOptions, type SniffOutcome } from './sniff-connection.ts';
export { inspectClientHello, MAX_CLIENT_HELLO_BYTES, type ClientHelloInspection } from './tls-inspector.ts';
export { inspectHttp, MAX_REQUEST_LINE_BYTES, type HttpInspection } from './http-inspector.ts';
