/**
 * The order-booking sample's order service: POST /orders {sku, quantity, customer, address}
 * reserves the items at inventory-service, schedules the delivery at shipping-service, and keeps
 * the order (201); GET /orders and GET /orders/<id> read them back. Held in memory, per replica.
 *
 * Environment: INVENTORY_SERVICE_URL (default http://inventory-service), SHIPPING_SERVICE_URL
 * (default http://shipping-service), PORT (default 80, the Service's targetPort), HOST,
 * SERVICE_VERSION. Calls time out after 3 s and forward the trace headers.
 */
import { podName, readJsonObject, sendJson, serve } from '../shared/http-service.ts';
import { call, parseJson, propagatedHeaders } from '../shared/outbound.ts';

const TIMEOUT_MS = 3000;
const inventory = process.env['INVENTORY_SERVICE_URL'] ?? 'http://inventory-service';
const shipping = process.env['SHIPPING_SERVICE_URL'] ?? 'http://shipping-service';
const servedBy = { service: 'order-service', version: process.env['SERVICE_VERSION'] ?? 'v1', pod: podName() };

interface Order {
  readonly id: string;
  readonly customer: string;
  readonly sku: string;
  readonly quantity: number;
  readonly status: 'confirmed';
  readonly reservation: unknown;
  readonly shipment: unknown;
}

const orders = new Map<string, Order>();

/** POSTs `json` to `url`; a network failure or timeout is a 503 naming the service. */
async function post(service: string, url: string, json: unknown, headers: Record<string, string>): Promise<{ status: number; body: Record<string, unknown> }> {
  try {
    const result = await call(url, { method: 'POST', json, headers, timeoutMs: TIMEOUT_MS });
    const body = parseJson(result);
    return { status: result.status, body: typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : { error: result.body } };
  } catch (error) {
    return { status: 503, body: { error: `${service} is unavailable: ${String(error)}` } };
  }
}

serve('order-service', 80, async (request, response, url) => {
  const path = url.pathname;
  if (request.method === 'GET' && path === '/health') return sendJson(response, 200, { status: 'Orders is healthy' });
  if (request.method === 'GET' && path === '/orders') return sendJson(response, 200, { orders: [...orders.values()], servedBy });
  const match = /^\/orders\/([^/]+)$/.exec(path);
  if (request.method === 'GET' && match !== null) {
    const order = orders.get(match[1]!);
    return order !== undefined ? sendJson(response, 200, order) : sendJson(response, 404, { error: `no order ${match[1]}` });
  }
  if (request.method !== 'POST' || path !== '/orders') return sendJson(response, 404, { error: `no route for ${request.method} ${path}` });

  const body = await readJsonObject(request);
  const { sku, quantity, customer, address } = body ?? {};
  if (typeof sku !== 'string' || !Number.isInteger(quantity) || typeof customer !== 'string' || typeof address !== 'string') {
    return sendJson(response, 400, { error: 'expected {"sku": string, "quantity": whole number, "customer": string, "address": string}' });
  }
  const headers = propagatedHeaders(request);
  const reserved = await post('inventory-service', `${inventory}/reservations`, { sku, quantity }, headers);
  if (reserved.status !== 201) return sendJson(response, reserved.status, { error: reserved.body['error'] ?? `inventory-service answered ${reserved.status}` });
  const id = `ord-${orders.size + 1}`;
  const shipped = await post('shipping-service', `${shipping}/shipments`, { orderId: id, address }, headers);
  if (shipped.status !== 201) return sendJson(response, shipped.status >= 500 ? shipped.status : 502, { error: shipped.body['error'] ?? `shipping-service answered ${shipped.status}` });
  const order: Order = { id, customer, sku, quantity: quantity as number, status: 'confirmed', reservation: reserved.body['reservation'], shipment: shipped.body['shipment'] };
  orders.set(id, order);
  return sendJson(response, 201, { order, servedBy });
});
