export { JwksResolver, type JwksResolverOptions } from './jwks-resolver.ts';
