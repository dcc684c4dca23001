import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { isDeepStrictEqual } from 'node:util';
import type { Logger } from '../../core/index.ts';
import {
  HTTP_PROTOCOL_OPTIONS_KEY, RAW_BUFFER_TRANSPORT_SOCKET, RAW_BUFFER_TYPE, TLS_TRANSPORT_SOCKET, UPSTREAM_TLS_CONTEXT_TYPE, type Cluster,
} from '../../xds/envoy/index.ts';
import type { UpstreamCluster, UpstreamHost } from './cluster.ts';
import type { SecretLookup } from '../security/secret-store.ts';
import type { Problem, ReadFile } from '../security/tls-context.ts';
import { parseUpstreamTlsContext, RAW_TRANSPORT, type UpstreamTransportSocket } from './upstream-tls.ts';

/** The endpoint metadata key transportSocketMatches look at (Istio puts `tlsMode: istio` there). */
export const TRANSPORT_SOCKET_MATCH_KEY = 'envoy.transport_socket_match';

/** How a cluster's connections are carried: per host, and with the SNI taken from requests or not. */
export interface ClusterTransport {
  /** The first transportSocketMatch whose every key the host's metadata has, else the cluster's transportSocket (plaintext by default). */
  forHost(host: UpstreamHost): UpstreamTransportSocket;
  /** Envoy's `autoSni`: TLS connections send the request's host as SNI, and pools are kept per SNI. */
  readonly autoSni: boolean;
  /** Envoy's `autoSanValidation`: the server's certificate must name the request's host (replacing the configured SAN matchers). */
  readonly autoSanValidation: boolean;
  /** Sockets that are accepted but fail every connection (SDS secrets), with why; for a warning. */
  readonly unavailable: readonly string[];
}

interface SocketMatch {
  readonly match: Readonly<Record<string, unknown>>;
  readonly socket: UpstreamTransportSocket;
}

const PLAINTEXT: ClusterTransport = { forHost: () => RAW_TRANSPORT, autoSni: false, autoSanValidation: false, unavailable: [] };

/**
 * Checks a Cluster's `transportSocket` and `transportSocketMatches` (and the auto SNI options of its
 * HttpProtocolOptions), reading the certificate files they name, and builds what its connections use.
 */
export function parseClusterTransport(cluster: Cluster, readFile: ReadFile, problem: Problem, secrets?: SecretLookup): ClusterTransport {
  const sockets: string[] = [];
  const unavailable: string[] = [];
  const parse = (value: unknown, at: string): UpstreamTransportSocket => {
    const socket = transportSocket(value, at, readFile, problem, secrets) ?? RAW_TRANSPORT;
    if (socket.kind === 'unavailable') unavailable.push(`${at}: ${socket.reason}`);
    return socket;
  };
  const fallback = cluster.transportSocket === undefined ? RAW_TRANSPORT : parse(cluster.transportSocket, 'transportSocket');
  const matches: SocketMatch[] = [];
  (cluster.transportSocketMatches ?? []).forEach((entry, i) => {
    const at = `transportSocketMatches[${i}]`;
    const { name, match, transportSocket: socket, ...rest } = entry as typeof entry & Record<string, unknown>;
    for (const field of Object.keys(rest)) problem(`${at}.${field}`, 'unknown field (known: name, match, transportSocket)');
    if (typeof name !== 'string' || name === '') problem(`${at}.name`, 'must not be empty');
    else if (sockets.includes(name)) problem(`${at}.name`, `"${name}" is used by an earlier match`);
    else sockets.push(name);
    if (match !== undefined && (typeof match !== 'object' || match === null || Array.isArray(match))) problem(`${at}.match`, 'must be an object');
    matches.push({ match: match ?? {}, socket: socket === undefined ? RAW_TRANSPORT : parse(socket, `${at}.transportSocket`) });
  });
  const options = cluster.typedExtensionProtocolOptions?.[HTTP_PROTOCOL_OPTIONS_KEY]?.upstreamHttpProtocolOptions;
  const autoSni = options?.autoSni === true;
  const autoSanValidation = options?.autoSanValidation === true;
  // Auto SNI means nothing to plaintext connections.
  if (matches.length === 0 && fallback === RAW_TRANSPORT) return PLAINTEXT;
  const chosen = new WeakMap<object, UpstreamTransportSocket>();
  return {
    forHost: (host) => {
      if (matches.length === 0) return fallback;
      // Hosts keep their metadata object until EDS changes it, so the choice is made once per change.
      const metadata = host.metadata;
      let socket = chosen.get(metadata);
      if (socket === undefined) {
        const labels = metadata[TRANSPORT_SOCKET_MATCH_KEY] ?? {};
        socket = matches.find((m) => Object.keys(m.match).every((key) => isDeepStrictEqual(labels[key], m.match[key])))?.socket ?? fallback;
        chosen.set(metadata, socket);
      }
      return socket;
    },
    autoSni,
    autoSanValidation,
    unavailable,
  };
}

function transportSocket(value: unknown, at: string, readFile: ReadFile, problem: Problem, secrets: SecretLookup | undefined): UpstreamTransportSocket | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    problem(at, 'must be an object');
    return undefined;
  }
  const { name, typedConfig, ...rest } = value as Readonly<Record<string, unknown>>;
  for (const field of Object.keys(rest)) problem(`${at}.${field}`, 'unknown field (known: name, typedConfig)');
  const type = typeof typedConfig === 'object' && typedConfig !== null ? (typedConfig as Readonly<Record<string, unknown>>)['@type'] : undefined;
  // Envoy picks the socket by the type of its config; the name only counts without one.
  if (type === UPSTREAM_TLS_CONTEXT_TYPE) return parseUpstreamTlsContext(typedConfig as Readonly<Record<string, unknown>>, `${at}.typedConfig`, readFile, problem, secrets);
  if (type === RAW_BUFFER_TYPE || (typedConfig === undefined && name === RAW_BUFFER_TRANSPORT_SOCKET)) return RAW_TRANSPORT;
  if (typedConfig === undefined && name === TLS_TRANSPORT_SOCKET) {
    problem(`${at}.typedConfig`, `a TLS transport socket needs its UpstreamTlsContext (${UPSTREAM_TLS_CONTEXT_TYPE})`);
    return undefined;
  }
  problem(at, `"${String(type ?? name)}" is not a supported transport socket (supported: ${TLS_TRANSPORT_SOCKET}, ${RAW_BUFFER_TRANSPORT_SOCKET})`);
  return undefined;
}

/** The SNI auto SNI sends for a request's authority: its host without the port, never an IP address (RFC 6066). */
export function sniFromAuthority(authority: string): string | undefined {
  let host = authority;
  if (host.startsWith('[')) return undefined;
  const colon = host.lastIndexOf(':');
  if (colon >= 0) host = host.slice(0, colon);
  return host === '' || isIP(host) !== 0 ? undefined : host;
}

export interface ClusterTransportsOptions {
  /** Reads the certificate files clusters name; node's readFileSync by default. */
  readonly readFile?: ReadFile;
  /** Where TLS contexts find the SDS secrets they name; without it, such contexts fail every connection. */
  readonly secrets?: SecretLookup | undefined;
  readonly logger?: Logger | undefined;
}

/**
 * The transports of the clusters in use, worked out once per cluster object (a CDS update makes a
 * new one). The cluster manager has already refused configs that do not parse; one that fails now
 * (a certificate file gone since) makes every connection of the cluster fail with the reason.
 */
export class ClusterTransports {
  readonly #readFile: ReadFile;
  readonly #secrets: SecretLookup | undefined;
  readonly #logger: Logger | undefined;
  readonly #byCluster = new WeakMap<UpstreamCluster, ClusterTransport>();

  constructor(options: ClusterTransportsOptions = {}) {
    this.#readFile = options.readFile ?? readFileSync;
    this.#secrets = options.secrets;
    this.#logger = options.logger;
  }

  of(cluster: UpstreamCluster): ClusterTransport {
    let transport = this.#byCluster.get(cluster);
    if (transport === undefined) {
      const problems: string[] = [];
      transport = parseClusterTransport(cluster.config, this.#readFile, (field, message) => problems.push(`${field}: ${message}`), this.#secrets);
      if (problems.length > 0) {
        const reason = `the cluster's transport socket cannot be used: ${problems.join('; ')}`;
        const socket: UpstreamTransportSocket = { kind: 'unavailable', reason };
        transport = { forHost: () => socket, autoSni: false, autoSanValidation: false, unavailable: [reason] };
      }
      for (const reason of transport.unavailable) this.#logger?.warn('upstream connections will fail', { cluster: cluster.name, reason });
      this.#byCluster.set(cluster, transport);
    }
    return transport;
  }
}
