export { CorsFilterFactory, type CorsConfig } from './cors-filter.ts';
export { CompiledCorsPolicy } from './cors-policy.ts';
