/**
 * Bookinfo's reviews service: GET /reviews/<id> gives two reviews, and from v2 on the stars that
 * the ratings service holds for each reviewer.
 *
 * Environment, as Istio's images set it: SERVICE_VERSION (v1, v2 or v3); ENABLE_RATINGS (`true`
 * to call ratings; by default true except in v1); STAR_COLOR (`black`, the default except in v3,
 * which is `red`). Ratings are called at RATINGS_HOSTNAME (default `ratings`) and
 * RATINGS_SERVICE_PORT (default 9080), with Istio's timeouts: 10 s for black stars, 2.5 s for
 * red, so that a 7 s delay injected on ratings shows differently in v2 and v3. The answer names
 * the replica that served it (`podname`, from POD_NAME) and its version. PORT (default 9080), HOST.
 */
import { podName, sendJson, serve } from '../shared/http-service.ts';
import { call, parseJson, propagatedHeaders, serviceAddress } from '../shared/outbound.ts';

const version = process.env['SERVICE_VERSION'] ?? 'v1';
const ratingsEnabled = (process.env['ENABLE_RATINGS'] ?? String(version !== 'v1')) === 'true';
const starColor = process.env['STAR_COLOR'] ?? (version === 'v3' ? 'red' : 'black');
const ratingsTimeoutMs = starColor === 'black' ? 10_000 : 2_500;
const ratingsService = `${serviceAddress('RATINGS', 'ratings', 9080)}/ratings`;
const pod = podName();

const REVIEWS = [
  { reviewer: 'Reviewer1', text: 'An extremely entertaining play by Shakespeare. The slapstick humour is refreshing!' },
  { reviewer: 'Reviewer2', text: 'Absolutely fun and entertaining. The play lacks thematic depth when compared to other plays by Shakespeare.' },
];

type Rating = { stars: number; color: string } | { error: string };

/** Each reviewer's stars, or undefined when ratings could not be had. */
async function fetchRatings(id: number, headers: Record<string, string>): Promise<Record<string, unknown> | undefined> {
  try {
    const result = await call(`${ratingsService}/${id}`, { headers, timeoutMs: ratingsTimeoutMs });
    if (result.status !== 200) {
      process.stderr.write(`reviews: ratings answered ${result.status}\n`);
      return undefined;
    }
    const body = parseJson(result) as { ratings?: Record<string, unknown> } | undefined;
    return body?.ratings;
  } catch (error) {
    process.stderr.write(`reviews: unable to contact ${ratingsService}: ${String(error)}\n`);
    return undefined;
  }
}

serve('reviews', 9080, async (request, response, url) => {
  if (request.method === 'GET' && url.pathname === '/health') {
    sendJson(response, 200, { status: 'Reviews is healthy' });
    return;
  }
  const match = /^\/reviews\/([^/]*)$/.exec(url.pathname);
  if (request.method !== 'GET' || match === null) {
    sendJson(response, 404, { error: `no route for ${request.method} ${url.pathname}` });
    return;
  }
  if (!/^\d+$/.test(match[1]!)) {
    sendJson(response, 400, { error: 'please provide numeric product id' });
    return;
  }
  const id = Number(match[1]);
  const ratings = ratingsEnabled ? await fetchRatings(id, propagatedHeaders(request)) : undefined;
  const reviews = REVIEWS.map((review) => {
    if (!ratingsEnabled) return review;
    const stars = ratings?.[review.reviewer];
    const rating: Rating = typeof stars === 'number' ? { stars, color: starColor } : { error: 'Ratings service is currently unavailable' };
    return { ...review, rating };
  });
  sendJson(response, 200, { id: String(id), podname: pod, version, reviews });
});
