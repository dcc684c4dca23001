import type { Logger, Result, Timers } from '../../../core/index.ts';
import { TCP_PROXY_TYPE } from '../../../xds/envoy/index.ts';
import { ClusterTransports } from '../../upstream/cluster-transport.ts';
import type { InternalListeners } from '../../upstream/internal-listeners.ts';
import type { SecretLookup } from '../../security/secret-store.ts';
import type { ReadFile } from '../../security/tls-context.ts';
import type { NetworkFilter, NetworkFilterDeps, NetworkFilterFactory } from '../network-filter.ts';
import { parseTcpProxy, type TcpProxyConfig } from './tcp-proxy-config.ts';
import { TcpProxyFilter } from './tcp-proxy-filter.ts';

/** Builds tcp_proxy filters (`envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy`). */
export interface TcpProxyFactoryOptions {
  /** Connect, idle and duration timeouts run on them. */
  readonly timers: Timers;
  /** Reads the certificate files of clusters that originate TLS; node's readFileSync by default. */
  readonly readFile?: ReadFile;
  /** Where TLS contexts find the SDS secrets they name. */
  readonly secrets?: SecretLookup | undefined;
  /** Warns of clusters whose TLS connections cannot be made (SDS secrets). */
  readonly logger?: Logger;
  /** Where hosts that are internal listeners are reached; connecting to one is refused without it. */
  readonly internalListeners?: InternalListeners;
}

export class TcpProxyFactory implements NetworkFilterFactory<TcpProxyConfig> {
  readonly typeUrl = TCP_PROXY_TYPE;
  private readonly timers: Timers;
  /** Shared by the factory's filters, so that each cluster's TLS context is built once. */
  private readonly transports: ClusterTransports;
  private readonly internalListeners: InternalListeners | undefined;

  constructor(options: TcpProxyFactoryOptions) {
    this.timers = options.timers;
    this.internalListeners = options.internalListeners;
    this.transports = new ClusterTransports({ ...(options.readFile !== undefined && { readFile: options.readFile }), secrets: options.secrets, logger: options.logger });
  }

  parse(config: Readonly<Record<string, unknown>>): Result<TcpProxyConfig, string> {
    return parseTcpProxy(config);
  }

  create(config: TcpProxyConfig, deps: NetworkFilterDeps): NetworkFilter {
    return new TcpProxyFilter(config, deps, this.timers, this.transports, this.internalListeners);
  }
}
