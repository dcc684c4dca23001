import type { Result, Timers } from '../../../core/index.ts';
import { TCP_PROXY_TYPE } from '../../../xds/envoy/index.ts';
import type { NetworkFilter, NetworkFilterDeps, NetworkFilterFactory } from '../network-filter.ts';
import { parseTcpProxy, type TcpProxyConfig } from './tcp-proxy-config.ts';
import { TcpProxyFilter } from './tcp-proxy-filter.ts';

/** Builds tcp_proxy filters (`envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy`). */
export class TcpProxyFactory implements NetworkFilterFactory<TcpProxyConfig> {
  readonly typeUrl = TCP_PROXY_TYPE;
  private readonly timers: Timers;

  /** Timers are the factory's own dependency: connect, idle and duration timeouts run on them. */
  constructor(options: { readonly timers: Timers }) {
    this.timers = options.timers;
  }

  parse(config: Readonly<Record<string, unknown>>): Result<TcpProxyConfig, string> {
    return parseTcpProxy(config);
  }

  create(config: TcpProxyConfig, deps: NetworkFilterDeps): NetworkFilter {
    return new TcpProxyFilter(config, deps, this.timers);
  }
}
