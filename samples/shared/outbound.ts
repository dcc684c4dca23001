/**
 * Calls from one sample service to another, by the other's Kubernetes name (`http://details:9080`).
 *
 * Requests go through `node:http` with its global agent, which is what `NODE_USE_ENV_PROXY=1`
 * points at the sidecar in explicit mode (as an absolute-form `GET http://details:9080/...`); in
 * transparent mode they go straight to the name and the sidecar captures them. Either way the app
 * does nothing mesh-specific except forward the headers below.
 */
import { request as httpRequest, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';

/**
 * The headers a service copies from the request it serves to the requests it makes, so that the
 * sidecars' spans join one trace (B3, W3C Trace Context and the others Istio documents), access
 * logs share `x-request-id`, and routing on `end-user` or a JWT still applies one hop further.
 */
export const PROPAGATED_HEADERS = [
  'x-request-id',
  'traceparent',
  'tracestate',
  'b3',
  'x-b3-traceid',
  'x-b3-spanid',
  'x-b3-parentspanid',
  'x-b3-sampled',
  'x-b3-flags',
  'x-ot-span-context',
  'x-cloud-trace-context',
  'grpc-trace-bin',
  'sw8',
  'x-datadog-trace-id',
  'x-datadog-parent-id',
  'x-datadog-sampling-priority',
  'end-user',
  'user-agent',
  'authorization',
  'jwt',
] as const;

/** The propagated headers that `incoming` carries. */
export function propagatedHeaders(incoming: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const name of PROPAGATED_HEADERS) {
    const value = incoming.headers[name];
    if (typeof value === 'string') headers[name] = value;
  }
  return headers;
}

export interface CallOptions {
  readonly method?: string;
  readonly headers?: Record<string, string>;
  /** Sent as JSON. */
  readonly json?: unknown;
  /** For the whole exchange, response body included. */
  readonly timeoutMs: number;
}

export interface CallResult {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

/** Makes one HTTP request; rejects on a network error or when `timeoutMs` passes first. */
export function call(url: string, options: CallOptions): Promise<CallResult> {
  const body = options.json === undefined ? undefined : JSON.stringify(options.json);
  const headers: Record<string, string> = { ...options.headers };
  if (body !== undefined) headers['content-type'] = 'application/json';
  return new Promise((resolve, reject) => {
    const request = httpRequest(url, { method: options.method ?? 'GET', headers, signal: AbortSignal.timeout(options.timeoutMs) }, (response) => {
      const chunks: Buffer[] = [];
      let ended = false;
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => {
        ended = true;
        resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks).toString('utf8') });
      });
      response.on('error', reject);
      response.on('close', () => {
        if (!ended) reject(new Error(`the response from ${url} was cut short`));
      });
    });
    request.on('error', reject);
    request.end(body);
  });
}

/** The body of `result` parsed as JSON, or undefined when it is not JSON. */
export function parseJson(result: CallResult): unknown {
  try {
    return JSON.parse(result.body);
  } catch {
    return undefined;
  }
}

/** `http://<host><.domain>:<port>` from `<PREFIX>_HOSTNAME`, `SERVICES_DOMAIN` and `<PREFIX>_SERVICE_PORT`, as Istio's bookinfo reads them. */
export function serviceAddress(prefix: string, defaultHost: string, defaultPort: number): string {
  const host = process.env[`${prefix}_HOSTNAME`] ?? defaultHost;
  const domain = process.env['SERVICES_DOMAIN'];
  const port = process.env[`${prefix}_SERVICE_PORT`] ?? String(defaultPort);
  return `http://${host}${domain !== undefined && domain !== '' ? `.${domain}` : ''}:${port}`;
}
