import type { HttpExchange, HttpFilter, HttpResponse } from './exchange.ts';

/**
 * Runs an exchange through filters as an async onion: each filter gets `next`, which runs the
 * rest of the chain. The last filter is terminal (the router) and must not call `next`. A filter
 * that throws yields a rejected promise, never an exception out of `run`.
 */
export class FilterChain {
  readonly #filters: readonly HttpFilter[];

  constructor(filters: readonly HttpFilter[]) {
    if (filters.length === 0) throw new Error('a filter chain needs a terminal filter');
    this.#filters = filters;
  }

  run(exchange: HttpExchange): Promise<HttpResponse> {
    return this.#step(exchange, 0);
  }

  #step(exchange: HttpExchange, index: number): Promise<HttpResponse> {
    const filter = this.#filters[index];
    if (filter === undefined) return Promise.reject(new Error('the terminal HTTP filter called next()'));
    try {
      return filter.handle(exchange, () => this.#step(exchange, index + 1));
    } catch (error) {
      return Promise.reject(error);
    }
  }
}
