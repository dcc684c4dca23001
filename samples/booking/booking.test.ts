import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { headersOf, startRelay, startSample, type Relay, type RunningSample } from '../shared/test-support.ts';

const JWT = 'Bearer eyJhbGciOiJSUzI1NiJ9.e30.c2lnbmF0dXJl';
const TRACE = { 'x-request-id': 'booking-1', traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' };

describe('order booking', () => {
  const running: RunningSample[] = [];
  let inventoryRelay: Relay;
  let booking: RunningSample;
  let order: RunningSample;

  before(async () => {
    const start = async (file: string, env: Record<string, string> = {}): Promise<RunningSample> => {
      const sample = await startSample(file, env);
      running.push(sample);
      return sample;
    };
    const [inventory, shipping] = await Promise.all([
      start('booking/inventory.ts', { POD_NAME: 'inventory-service-v1-0' }),
      start('booking/shipping.ts'),
    ]);
    inventoryRelay = await startRelay(inventory.port);
    order = await start('booking/order.ts', { INVENTORY_SERVICE_URL: `http://127.0.0.1:${inventoryRelay.port}`, SHIPPING_SERVICE_URL: shipping.url });
    booking = await start('booking/booking.ts', {
      ORDER_SERVICE_URL: order.url, INVENTORY_SERVICE_URL: inventory.url, SERVICE_VERSION: 'v2', POD_NAME: 'booking-service-v2-0',
    });
  });

  after(async () => {
    await Promise.all([...running.map((s) => s.stop()), inventoryRelay?.close()]);
  });

  const book = (body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${booking.url}/api/v1/booking`, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json', ...headers } });

  it('answers /health on every service', async () => {
    for (const sample of running) {
      const response = await fetch(`${sample.url}/health`);
      assert.equal(response.status, 200);
      await response.text();
    }
  });

  it('lists what can be booked, saying which booking-service replica answered', async () => {
    const response = await fetch(`${booking.url}/api/v1/booking/items`);
    assert.equal(response.status, 200);
    const body = await response.json() as { items: { sku: string }[]; servedBy: unknown };
    assert.deepEqual(body.items.map((i) => i.sku), ['book-101', 'ticket-201', 'mug-301']);
    assert.deepEqual(body.servedBy, { service: 'booking-service', version: 'v2', pod: 'booking-service-v2-0' });
  });

  it('books: reserves stock, schedules the delivery and keeps the order', async () => {
    const response = await book({ sku: 'book-101', quantity: 2, customer: 'viola', address: '1 Globe Lane, London' });
    assert.equal(response.status, 201);
    const { order: created } = await response.json() as { order: { id: string; status: string; reservation: { sku: string; quantity: number }; shipment: { orderId: string; status: string } } };
    assert.equal(created.status, 'confirmed');
    assert.equal(created.reservation.sku, 'book-101');
    assert.equal(created.reservation.quantity, 2);
    assert.equal(created.shipment.orderId, created.id);
    assert.equal(created.shipment.status, 'scheduled');

    const one = await fetch(`${booking.url}/api/v1/booking/${created.id}`);
    assert.equal(((await one.json()) as { id: string }).id, created.id);
    const all = await (await fetch(`${booking.url}/api/v1/booking`)).json() as { orders: { id: string }[] };
    assert.ok(all.orders.some((o) => o.id === created.id));
    const stock = await (await fetch(`${booking.url}/api/v1/booking/items`)).json() as { items: { sku: string; stock: number }[] };
    assert.equal(stock.items.find((i) => i.sku === 'book-101')!.stock, 23);
  });

  it('forwards the JWT and the trace headers along the chain', async () => {
    inventoryRelay.requests.length = 0;
    const response = await book({ sku: 'book-101', quantity: 1, customer: 'viola', address: 'x' }, { authorization: JWT, ...TRACE });
    assert.equal(response.status, 201);
    await response.text();
    assert.deepEqual(headersOf(inventoryRelay.requests[0], ['authorization', ...Object.keys(TRACE)]), { authorization: JWT, ...TRACE });
  });

  it('passes on the inventory verdicts: unknown item 404, too few left 409, bad input 400', async () => {
    const unknown = await book({ sku: 'nope', quantity: 1, customer: 'c', address: 'a' });
    assert.equal(unknown.status, 404);
    assert.equal(((await unknown.json()) as { error: string }).error, 'no item nope');
    const soldOut = await book({ sku: 'mug-301', quantity: 1, customer: 'c', address: 'a' });
    assert.equal(soldOut.status, 409);
    assert.equal(((await soldOut.json()) as { error: string }).error, 'only 0 of mug-301 left');
    const bad = await book({ sku: 'book-101' });
    assert.equal(bad.status, 400);
    await bad.text();
    const notJson = await fetch(`${booking.url}/api/v1/booking`, { method: 'POST', body: 'sku=1' });
    assert.equal(notJson.status, 400);
    await notJson.text();
  });

  it('passes on a 503 from a backend that is down', async () => {
    inventoryRelay.reply = { status: 503, body: '{"error":"no healthy upstream"}' };
    try {
      const response = await book({ sku: 'book-101', quantity: 1, customer: 'c', address: 'a' });
      assert.equal(response.status, 503);
      assert.equal(((await response.json()) as { error: string }).error, 'no healthy upstream');
    } finally {
      inventoryRelay.reply = undefined;
    }
  });

  it('answers 404 outside its API', async () => {
    const response = await fetch(`${booking.url}/api/v2/booking`);
    assert.equal(response.status, 404);
    assert.match(((await response.json()) as { error: string }).error, /the API is under \/api\/v1\/booking/);
  });
});
