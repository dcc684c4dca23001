import { applyHeaderMutation } from '../route/header-mutation.ts';
import type { HttpExchange, HttpResponse } from './exchange.ts';
import { isGrpcRequest, localReply } from './local-reply.ts';

/** Which answer a request gets without going upstream, for stats. */
export type RouteReplyKind = 'no-route' | 'redirect' | 'direct';

/**
 * The answer for a request that needs no upstream: 404 NR when no route matched, the route's
 * redirect, or its direct response (with the route's response header changes). Undefined for a
 * forwarding route, which the router carries.
 */
export function routeReply(exchange: HttpExchange): { readonly kind: RouteReplyKind; readonly response: HttpResponse } | undefined {
  const route = exchange.route;
  if (route === undefined) {
    return { kind: 'no-route', response: localReply(exchange.info, { status: 404, flag: 'NR', details: 'route_not_found', grpc: isGrpcRequest(exchange.request.headers) }) };
  }
  const action = route.action;
  let reply: { kind: RouteReplyKind; response: HttpResponse };
  switch (action.kind) {
    case 'forward':
      return undefined;
    case 'redirect': {
      const redirect = action.redirect(exchange.request);
      reply = { kind: 'redirect', response: localReply(exchange.info, { status: redirect.status, details: 'direct_response', headers: { location: redirect.location } }) };
      break;
    }
    case 'direct':
      reply = { kind: 'direct', response: localReply(exchange.info, { status: action.status, details: 'direct_response', ...(action.body !== undefined ? { body: action.body } : {}) }) };
      break;
  }
  applyHeaderMutation(reply.response.headers, route.responseHeaders);
  return reply;
}
