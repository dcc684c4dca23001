import type { Clock, Result } from '../../../core/index.ts';
import type { AccessLogSink } from '../../telemetry/access-log.ts';
import { joinStatPrefix, rbacConnection, RbacStats, type RbacInput } from '../../security/rbac/index.ts';
import type { ConnectionFilter, ConnectionFilterFactory, DownstreamConnection, NetworkFilterDeps } from '../network-filter.ts';
import { parseRbacNetworkFilter, RBAC_NETWORK_TYPE, type RbacNetworkSettings } from './rbac-network-settings.ts';

/**
 * `envoy.filters.network.rbac`: Envoy's RBAC on a connection, before the chain's terminal filter.
 * It reads only the connection (peer and destination addresses, SNI, the verified peer
 * certificate): header, urlPath and metadata rules match nothing here.
 *
 * Shadow rules are evaluated and counted (`<statPrefix>rbac.<shadow prefix>shadow_allowed|
 * shadow_denied`), never enforced. The enforced rules count `<statPrefix>rbac.allowed|denied`; a
 * denied connection is destroyed at once (Envoy closes it without flushing) and logged as a `tcp`
 * entry whose response code details and connection termination details are
 * `rbac_access_denied_matched_policy[<policy or none>]`. Without rules every connection goes on.
 */
export class RbacNetworkFilterFactory implements ConnectionFilterFactory<RbacNetworkSettings> {
  readonly typeUrl = RBAC_NETWORK_TYPE;
  readonly role = 'connection';

  parse(config: Readonly<Record<string, unknown>>): Result<RbacNetworkSettings, string> {
    return parseRbacNetworkFilter(config);
  }

  create(settings: RbacNetworkSettings, deps: NetworkFilterDeps): ConnectionFilter {
    const stats = new RbacStats(joinStatPrefix(deps.stats, settings.statPrefix), '', settings.shadowRulesStatPrefix);
    return new RbacNetworkFilter(settings, stats, deps.accessLog, deps.clock);
  }
}

class RbacNetworkFilter implements ConnectionFilter {
  readonly #settings: RbacNetworkSettings;
  readonly #stats: RbacStats;
  readonly #accessLog: AccessLogSink;
  readonly #clock: Clock;

  constructor(settings: RbacNetworkSettings, stats: RbacStats, accessLog: AccessLogSink, clock: Clock) {
    this.#settings = settings;
    this.#stats = stats;
    this.#accessLog = accessLog;
    this.#clock = clock;
  }

  onConnection(connection: DownstreamConnection): 'continue' | 'stop' {
    const input: RbacInput = { connection: rbacConnection(connection.downstream, connection.sniffed.sni) };
    const shadow = this.#settings.shadowRules?.evaluate(input);
    if (shadow !== undefined) (shadow.allowed ? this.#stats.shadowAllowed : this.#stats.shadowDenied).inc();
    const decision = this.#settings.rules?.evaluate(input);
    if (decision === undefined) return 'continue';
    if (decision.allowed) {
      this.#stats.allowed.inc();
      return 'continue';
    }
    this.#stats.denied.inc();
    const details = `rbac_access_denied_matched_policy[${decision.matchedPolicy ?? 'none'}]`;
    connection.socket.destroy();
    this.#accessLog.log({
      kind: 'tcp',
      downstream: connection.downstream,
      info: {
        requestId: '',
        startTime: this.#clock.now(),
        responseFlags: new Set(),
        responseCodeDetails: details,
        connectionTerminationDetails: details,
        attemptCount: 0,
        bytesReceived: 0,
        bytesSent: 0,
      },
      durationMs: 0,
      listenerName: connection.listenerName,
    });
    return 'stop';
  }
}
