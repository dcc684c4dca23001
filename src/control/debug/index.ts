export { DebugServer, type DebugSources } from './debug-server.ts';
