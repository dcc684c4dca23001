/**
 * Bookinfo's ratings service: GET /ratings/<id> gives each reviewer's stars; POST /ratings/<id>
 * with a JSON body such as {"Reviewer1": 3, "Reviewer2": 1} replaces them (held in memory).
 *
 * Environment: PORT (default 9080), HOST, and SERVICE_VERSION: `v-faulty` answers half of the
 * requests with 503 and `v-delayed` delays half of them by 7 s, as Istio's sample does, to try
 * outlier detection, retries and timeouts on.
 */
import { readJsonObject, sendJson, serve } from '../shared/http-service.ts';

const DEFAULT_RATINGS: Readonly<Record<string, number>> = { Reviewer1: 5, Reviewer2: 4 };
const version = process.env['SERVICE_VERSION'] ?? 'v1';
const posted = new Map<number, Record<string, number>>();

serve('ratings', 9080, async (request, response, url) => {
  if (request.method === 'GET' && url.pathname === '/health') {
    sendJson(response, 200, { status: 'Ratings is healthy' });
    return;
  }
  const match = /^\/ratings\/([^/]*)$/.exec(url.pathname);
  if (match === null || (request.method !== 'GET' && request.method !== 'POST')) {
    sendJson(response, 404, { error: `no route for ${request.method} ${url.pathname}` });
    return;
  }
  const id = /^\d+$/.test(match[1]!) ? Number(match[1]) : undefined;
  if (id === undefined) {
    sendJson(response, 400, { error: 'please provide numeric product ID' });
    return;
  }
  if (request.method === 'POST') {
    const body = await readJsonObject(request);
    const valid = body !== undefined && Object.values(body).every((stars) => Number.isInteger(stars) && (stars as number) >= 0 && (stars as number) <= 5);
    if (!valid) {
      sendJson(response, 400, { error: 'please provide valid ratings JSON (reviewer name to stars 0..5)' });
      return;
    }
    posted.set(id, body as Record<string, number>);
  }
  if (version === 'v-faulty' && Math.random() < 0.5) {
    sendJson(response, 503, { error: 'Service unavailable' });
    return;
  }
  if (version === 'v-delayed' && Math.random() < 0.5) await new Promise((resolve) => setTimeout(resolve, 7000));
  sendJson(response, 200, { id, ratings: posted.get(id) ?? DEFAULT_RATINGS });
});
