import type { ResponseFlag } from '../http/exchange.ts';
import { headerValue, type Headers } from '../http/headers.ts';
import type { AccessLogEntry } from './access-log.ts';

/** One finished request as a log line, newline included. */
export type AccessLogFormatter = (entry: AccessLogEntry) => string;

/** Istio's `accessLogEncoding`. */
export type AccessLogEncoding = 'TEXT' | 'JSON';

export function accessLogFormatter(encoding: AccessLogEncoding): AccessLogFormatter {
  return encoding === 'JSON' ? formatAccessLogJson : formatAccessLogText;
}

/** Envoy's order of the response flags (its ResponseFlag bits), in which %RESPONSE_FLAGS% lists them. */
const FLAG_ORDER: Readonly<Record<ResponseFlag, number>> = {
  UH: 1, UT: 2, LR: 3, UR: 4, UF: 5, UC: 6, UO: 7, NR: 8, DI: 9, FI: 10, RL: 11, UAEX: 12, DC: 13, URX: 14, SI: 15, DPE: 16, DT: 17, UPE: 18, NC: 19,
};

/** %RESPONSE_FLAGS%: the flags joined by commas in Envoy's order, or `-` for none. */
export function formatResponseFlags(flags: ReadonlySet<ResponseFlag>): string {
  if (flags.size === 0) return '-';
  if (flags.size === 1) return flags.values().next().value as string;
  return [...flags].sort((a, b) => FLAG_ORDER[a] - FLAG_ORDER[b]).join(',');
}

/** `address:port`, with an IPv6 address in brackets, as Envoy writes addresses. */
function hostPort(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

function header(headers: Headers | undefined, name: string): string | undefined {
  if (headers === undefined) return undefined;
  const value = headerValue(headers, name);
  return value === '' ? undefined : value;
}

/** The values of Istio's format, each undefined when Envoy has none (`-` in text, null in JSON). */
interface Fields {
  readonly startTime: string;
  readonly method: string | undefined;
  readonly path: string | undefined;
  readonly protocol: string | undefined;
  readonly responseCode: number;
  readonly responseFlags: string;
  readonly responseCodeDetails: string | undefined;
  readonly connectionTerminationDetails: string | undefined;
  readonly upstreamTransportFailureReason: string | undefined;
  readonly bytesReceived: number;
  readonly bytesSent: number;
  readonly duration: number;
  readonly upstreamServiceTime: string | undefined;
  readonly xForwardedFor: string | undefined;
  readonly userAgent: string | undefined;
  readonly requestId: string | undefined;
  readonly authority: string | undefined;
  readonly upstreamHost: string | undefined;
  readonly upstreamCluster: string | undefined;
  readonly upstreamLocalAddress: string | undefined;
  readonly downstreamLocalAddress: string;
  readonly downstreamRemoteAddress: string;
  readonly requestedServerName: string | undefined;
  readonly routeName: string | undefined;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === '' ? undefined : value;
}

function fields(entry: AccessLogEntry): Fields {
  const { request, response, info, downstream } = entry;
  const headers = request?.headers;
  return {
    startTime: new Date(info.startTime).toISOString(),
    method: request?.method,
    path: header(headers, 'x-envoy-original-path') ?? nonEmpty(request?.path),
    protocol: request?.protocol,
    responseCode: response?.status ?? 0,
    responseFlags: formatResponseFlags(info.responseFlags),
    responseCodeDetails: nonEmpty(info.responseCodeDetails),
    connectionTerminationDetails: nonEmpty(info.connectionTerminationDetails),
    upstreamTransportFailureReason: nonEmpty(info.upstreamTransportFailureReason),
    bytesReceived: info.bytesReceived,
    bytesSent: info.bytesSent,
    duration: Math.max(0, Math.floor(entry.durationMs)),
    upstreamServiceTime: header(response?.headers, 'x-envoy-upstream-service-time'),
    xForwardedFor: header(headers, 'x-forwarded-for'),
    userAgent: header(headers, 'user-agent'),
    requestId: request === undefined ? undefined : (header(headers, 'x-request-id') ?? nonEmpty(info.requestId)),
    authority: nonEmpty(request?.authority),
    upstreamHost: nonEmpty(info.upstreamHost),
    upstreamCluster: nonEmpty(info.upstreamCluster),
    upstreamLocalAddress: nonEmpty(info.upstreamLocalAddress),
    downstreamLocalAddress: hostPort(downstream.localAddress, downstream.localPort),
    downstreamRemoteAddress: hostPort(downstream.remoteAddress, downstream.remotePort),
    requestedServerName: nonEmpty(downstream.tls?.sni),
    routeName: nonEmpty(info.routeName),
  };
}

function dash(value: string | undefined): string {
  return value ?? '-';
}

/**
 * Envoy's default format as Istio configures it (TEXT encoding):
 * `[%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%" %RESPONSE_CODE%
 * %RESPONSE_FLAGS% %RESPONSE_CODE_DETAILS% %CONNECTION_TERMINATION_DETAILS%
 * "%UPSTREAM_TRANSPORT_FAILURE_REASON%" %BYTES_RECEIVED% %BYTES_SENT% %DURATION%
 * %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% "%REQ(X-FORWARDED-FOR)%" "%REQ(USER-AGENT)%"
 * "%REQ(X-REQUEST-ID)%" "%REQ(:AUTHORITY)%" "%UPSTREAM_HOST%" %UPSTREAM_CLUSTER_RAW%
 * %UPSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_REMOTE_ADDRESS%
 * %REQUESTED_SERVER_NAME% %ROUTE_NAME%`, `-` for what is missing (a TCP connection logs `"- - -"`).
 */
export function formatAccessLogText(entry: AccessLogEntry): string {
  const f = fields(entry);
  return (
    `[${f.startTime}] "${dash(f.method)} ${dash(f.path)} ${dash(f.protocol)}" ${f.responseCode} ${f.responseFlags} ${dash(f.responseCodeDetails)} ` +
    `${dash(f.connectionTerminationDetails)} "${dash(f.upstreamTransportFailureReason)}" ${f.bytesReceived} ${f.bytesSent} ${f.duration} ` +
    `${dash(f.upstreamServiceTime)} "${dash(f.xForwardedFor)}" "${dash(f.userAgent)}" "${dash(f.requestId)}" "${dash(f.authority)}" ` +
    `"${dash(f.upstreamHost)}" ${dash(f.upstreamCluster)} ${dash(f.upstreamLocalAddress)} ${f.downstreamLocalAddress} ${f.downstreamRemoteAddress} ` +
    `${dash(f.requestedServerName)} ${dash(f.routeName)}\n`
  );
}

/**
 * Istio's JSON encoding: the same operators under Istio's keys, sorted; numbers stay numbers and
 * what is missing is null, as Envoy's typed JSON format writes them.
 */
export function formatAccessLogJson(entry: AccessLogEntry): string {
  const f = fields(entry);
  const record = {
    authority: f.authority ?? null,
    bytes_received: f.bytesReceived,
    bytes_sent: f.bytesSent,
    connection_termination_details: f.connectionTerminationDetails ?? null,
    downstream_local_address: f.downstreamLocalAddress,
    downstream_remote_address: f.downstreamRemoteAddress,
    duration: f.duration,
    method: f.method ?? null,
    path: f.path ?? null,
    protocol: f.protocol ?? null,
    request_id: f.requestId ?? null,
    requested_server_name: f.requestedServerName ?? null,
    response_code: f.responseCode,
    response_code_details: f.responseCodeDetails ?? null,
    response_flags: f.responseFlags,
    route_name: f.routeName ?? null,
    start_time: f.startTime,
    upstream_cluster: f.upstreamCluster ?? null,
    upstream_host: f.upstreamHost ?? null,
    upstream_local_address: f.upstreamLocalAddress ?? null,
    upstream_service_time: f.upstreamServiceTime ?? null,
    upstream_transport_failure_reason: f.upstreamTransportFailureReason ?? null,
    user_agent: f.userAgent ?? null,
    x_forwarded_for: f.xForwardedFor ?? null,
  };
  return `${JSON.stringify(record)}\n`;
}
