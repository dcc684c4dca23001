import type { HttpExchange, HttpFilter, HttpResponse } from '../../http/exchange.ts';
import { isGrpcRequest, localReply } from '../../http/local-reply.ts';
import { applyHeaderMutation } from '../../route/index.ts';
import type { HcmStats } from './hcm-stats.ts';

/**
 * Sits just before the router: answers what needs no upstream, after the other filters ran (as
 * Envoy's router does): 404 NR when no route matched, the route's direct response, its redirect.
 * Only forwarding routes reach the router. The route's response header changes apply to these
 * answers too.
 */
export class RouteReplyFilter implements HttpFilter {
  readonly #stats: HcmStats;

  constructor(stats: HcmStats) {
    this.#stats = stats;
  }

  handle(exchange: HttpExchange, next: () => Promise<HttpResponse>): Promise<HttpResponse> {
    const route = exchange.route;
    if (route === undefined) {
      this.#stats.noRoute.inc();
      return Promise.resolve(localReply(exchange.info, { status: 404, flag: 'NR', details: 'route_not_found', grpc: isGrpcRequest(exchange.request.headers) }));
    }
    const action = route.action;
    let response: HttpResponse;
    switch (action.kind) {
      case 'forward':
        return next();
      case 'redirect': {
        this.#stats.redirect.inc();
        const redirect = action.redirect(exchange.request);
        response = localReply(exchange.info, { status: redirect.status, details: 'direct_response', headers: { location: redirect.location } });
        break;
      }
      case 'direct':
        this.#stats.directResponse.inc();
        response = localReply(exchange.info, { status: action.status, details: 'direct_response', ...(action.body !== undefined ? { body: action.body } : {}) });
        break;
    }
    applyHeaderMutation(response.headers, route.responseHeaders);
    return Promise.resolve(response);
  }
}
