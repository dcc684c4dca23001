/**
 * The order-booking sample's inventory service: what can be booked and how many are left.
 * GET /items, GET /items/<sku>, POST /reservations {sku, quantity} (201, 404 for an unknown item,
 * 409 when too few are left). Stock is held in memory, per replica.
 * Environment: PORT (default 80, the Service's targetPort), HOST, SERVICE_VERSION.
 */
import { podName, readJsonObject, sendJson, serve } from '../shared/http-service.ts';

interface Item {
  readonly sku: string;
  readonly name: string;
  stock: number;
}

const items = new Map<string, Item>([
  ['book-101', { sku: 'book-101', name: 'The Comedy of Errors (paperback)', stock: 25 }],
  ['ticket-201', { sku: 'ticket-201', name: 'Theatre ticket, Saturday matinee', stock: 4 }],
  ['mug-301', { sku: 'mug-301', name: 'Globe Theatre mug', stock: 0 }],
]);
const servedBy = { service: 'inventory-service', version: process.env['SERVICE_VERSION'] ?? 'v1', pod: podName() };
let reservations = 0;

serve('inventory-service', 80, async (request, response, url) => {
  const path = url.pathname;
  if (request.method === 'GET' && path === '/health') return sendJson(response, 200, { status: 'Inventory is healthy' });
  if (request.method === 'GET' && path === '/items') return sendJson(response, 200, { items: [...items.values()], servedBy });
  const item = /^\/items\/([^/]+)$/.exec(path);
  if (request.method === 'GET' && item !== null) {
    const found = items.get(decodeURIComponent(item[1]!));
    return found !== undefined ? sendJson(response, 200, found) : sendJson(response, 404, { error: `no item ${item[1]}` });
  }
  if (request.method === 'POST' && path === '/reservations') {
    const body = await readJsonObject(request);
    const sku = body?.['sku'];
    const quantity = body?.['quantity'];
    if (typeof sku !== 'string' || !Number.isInteger(quantity) || (quantity as number) < 1) {
      return sendJson(response, 400, { error: 'expected {"sku": string, "quantity": a whole number of at least 1}' });
    }
    const found = items.get(sku);
    if (found === undefined) return sendJson(response, 404, { error: `no item ${sku}` });
    if (found.stock < (quantity as number)) return sendJson(response, 409, { error: `only ${found.stock} of ${sku} left` });
    found.stock -= quantity as number;
    reservations += 1;
    return sendJson(response, 201, { reservation: { id: `res-${reservations}`, sku, quantity }, servedBy });
  }
  return sendJson(response, 404, { error: `no route for ${request.method} ${path}` });
});
