/**
 * An HTTP echo service: every request is answered with JSON describing it, so that tests and
 * users can see what reached the app through the mesh: which version and replica answered, the
 * method, path and query, every request header (the sidecar's x-request-id, x-forwarded-for,
 * x-forwarded-client-cert under mTLS, headers a VirtualService added), the caller's address, and
 * the body.
 *
 * Query parameters shape the answer: `status=503` answers with that status (200..599) and
 * `delay=100ms` waits first (up to 60 s), for trying retries, timeouts and outlier detection.
 *
 * Environment: SERVICE_VERSION (default v1), DEFAULT_STATUS (the status when `status` is not
 * given, default 200: a replica set to 503 is a failing backend), PORT (default 8080), HOST.
 */
import { podName, readBody, sendJson, serve } from '../shared/http-service.ts';
import { parseDurationMs } from './duration.ts';

const MAX_DELAY_MS = 60_000;
const MAX_ECHOED_BODY = 64 * 1024;
const version = process.env['SERVICE_VERSION'] ?? 'v1';
const defaultStatus = Number(process.env['DEFAULT_STATUS'] ?? '200');
const pod = podName();

serve('echo', 8080, async (request, response, url) => {
  if (request.method === 'GET' && url.pathname === '/health') return sendJson(response, 200, { status: 'Echo is healthy', version });
  const statusParam = url.searchParams.get('status');
  const status = statusParam === null ? defaultStatus : Number(statusParam);
  if (!Number.isInteger(status) || status < 200 || status > 599) return sendJson(response, 400, { error: `status must be an HTTP status 200..599, got "${statusParam}"` });
  const delayParam = url.searchParams.get('delay');
  const delayMs = delayParam === null ? 0 : parseDurationMs(delayParam);
  if (delayMs === undefined || delayMs > MAX_DELAY_MS) return sendJson(response, 400, { error: `delay must be a duration of at most 60s such as 100ms or 1.5s, got "${delayParam}"` });
  const body = await readBody(request);
  if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
  const xfcc = request.headers['x-forwarded-client-cert'];
  return sendJson(response, status, {
    workload: process.env['WEFT_WORKLOAD'] ?? null,
    version,
    pod,
    status,
    method: request.method,
    path: url.pathname,
    query: Object.fromEntries(url.searchParams),
    host: request.headers.host ?? null,
    headers: request.headers,
    remoteAddress: request.socket.remoteAddress ?? null,
    remotePort: request.socket.remotePort ?? null,
    forwardedClientCert: typeof xfcc === 'string' ? xfcc : null,
    body: body.length > MAX_ECHOED_BODY ? `${body.slice(0, MAX_ECHOED_BODY)}…` : body,
  });
});
