/**
 * The order-booking sample's public API, under /api/v1/booking, which the seed tutorial's
 * booking-gateway routes to booking-service port 8080:
 *
 *   GET  /api/v1/booking          the bookings made so far (from order-service)
 *   GET  /api/v1/booking/items    what can be booked (from inventory-service)
 *   POST /api/v1/booking          {sku, quantity, customer, address}: books (201)
 *   GET  /api/v1/booking/<id>     one booking
 *
 * Every answer says which version and replica of booking-service served it. The caller's
 * Authorization header (the JWT that the seed's require-jwt policy asks for) and the trace headers
 * are forwarded. Environment: ORDER_SERVICE_URL (default http://order-service),
 * INVENTORY_SERVICE_URL (default http://inventory-service), PORT (default 8080), HOST,
 * SERVICE_VERSION.
 */
import { podName, readBody, sendJson, serve } from '../shared/http-service.ts';
import { call, parseJson, propagatedHeaders } from '../shared/outbound.ts';

const TIMEOUT_MS = 5000;
const PREFIX = '/api/v1/booking';
const orders = process.env['ORDER_SERVICE_URL'] ?? 'http://order-service';
const inventory = process.env['INVENTORY_SERVICE_URL'] ?? 'http://inventory-service';
const servedBy = { service: 'booking-service', version: process.env['SERVICE_VERSION'] ?? 'v1', pod: podName() };

/** Relays one call to a backend and answers with its status and JSON, saying which booking-service replica served it. */
async function relay(service: string, url: string, method: string, headers: Record<string, string>, json?: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  try {
    const result = await call(url, { method, headers, timeoutMs: TIMEOUT_MS, ...(json !== undefined ? { json } : {}) });
    const body = parseJson(result);
    return { status: result.status, body: { ...(typeof body === 'object' && body !== null ? body : { error: result.body }), servedBy } };
  } catch (error) {
    return { status: 503, body: { error: `${service} is unavailable: ${String(error)}`, servedBy } };
  }
}

serve('booking-service', 8080, async (request, response, url) => {
  const path = url.pathname;
  const method = request.method ?? 'GET';
  if (method === 'GET' && path === '/health') return sendJson(response, 200, { status: 'Booking is healthy' });
  const headers = propagatedHeaders(request);
  let result: { status: number; body: Record<string, unknown> } | undefined;
  if (method === 'GET' && (path === PREFIX || path === `${PREFIX}/`)) {
    result = await relay('order-service', `${orders}/orders`, 'GET', headers);
  } else if (method === 'GET' && path === `${PREFIX}/items`) {
    result = await relay('inventory-service', `${inventory}/items`, 'GET', headers);
  } else if (method === 'POST' && (path === PREFIX || path === `${PREFIX}/`)) {
    let json: unknown;
    try {
      json = JSON.parse(await readBody(request));
    } catch {
      return sendJson(response, 400, { error: 'expected a JSON body {"sku", "quantity", "customer", "address"}' });
    }
    result = await relay('order-service', `${orders}/orders`, 'POST', headers, json);
  } else {
    const match = new RegExp(`^${PREFIX}/([^/]+)$`).exec(path);
    if (method === 'GET' && match !== null) result = await relay('order-service', `${orders}/orders/${encodeURIComponent(match[1]!)}`, 'GET', headers);
  }
  if (result === undefined) return sendJson(response, 404, { error: `no route for ${method} ${path}; the API is under ${PREFIX}` });
  return sendJson(response, result.status, result.body);
});
