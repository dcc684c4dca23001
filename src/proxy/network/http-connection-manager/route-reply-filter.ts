import type { HttpExchange, HttpFilter, HttpResponse } from '../../http/exchange.ts';
import { routeReply } from '../../http/route-reply.ts';
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
    const reply = routeReply(exchange);
    if (reply === undefined) return next();
    const counter = reply.kind === 'no-route' ? this.#stats.noRoute : reply.kind === 'redirect' ? this.#stats.redirect : this.#stats.directResponse;
    counter.inc();
    return Promise.resolve(reply.response);
  }
}
