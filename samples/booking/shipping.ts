/**
 * The order-booking sample's shipping service: POST /shipments {orderId, address} schedules a
 * delivery (201), GET /shipments/<id> tells where it stands. Held in memory, per replica.
 * Environment: PORT (default 80, the Service's targetPort), HOST, SERVICE_VERSION.
 */
import { podName, readJsonObject, sendJson, serve } from '../shared/http-service.ts';

interface Shipment {
  readonly id: string;
  readonly orderId: string;
  readonly address: string;
  readonly carrier: string;
  readonly status: 'scheduled';
  readonly estimatedDays: number;
}

const shipments = new Map<string, Shipment>();
const servedBy = { service: 'shipping-service', version: process.env['SERVICE_VERSION'] ?? 'v1', pod: podName() };

serve('shipping-service', 80, async (request, response, url) => {
  const path = url.pathname;
  if (request.method === 'GET' && path === '/health') return sendJson(response, 200, { status: 'Shipping is healthy' });
  if (request.method === 'POST' && path === '/shipments') {
    const body = await readJsonObject(request);
    const orderId = body?.['orderId'];
    const address = body?.['address'];
    if (typeof orderId !== 'string' || typeof address !== 'string' || address.trim() === '') {
      return sendJson(response, 400, { error: 'expected {"orderId": string, "address": a non-empty string}' });
    }
    const shipment: Shipment = { id: `shp-${shipments.size + 1}`, orderId, address, carrier: 'Weft Parcel', status: 'scheduled', estimatedDays: 3 };
    shipments.set(shipment.id, shipment);
    return sendJson(response, 201, { shipment, servedBy });
  }
  const match = /^\/shipments\/([^/]+)$/.exec(path);
  if (request.method === 'GET' && match !== null) {
    const shipment = shipments.get(match[1]!);
    return shipment !== undefined ? sendJson(response, 200, shipment) : sendJson(response, 404, { error: `no shipment ${match[1]}` });
  }
  return sendJson(response, 404, { error: `no route for ${request.method} ${path}` });
});
