import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { headersOf, startForwardProxy, startRelay, startSample, type Relay, type RunningSample } from '../shared/test-support.ts';

const TRACE = {
  'x-request-id': 'c0ffee00-1111-2222-3333-444455556666',
  traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
  tracestate: 'weft=1',
  b3: '80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1',
  'x-b3-traceid': '80f198ee56343ba864fe8b2a57d3eff7',
  'x-b3-spanid': 'e457b5a2e4d86bd1',
  'x-b3-parentspanid': '05e3ac9a4f6e3b90',
  'x-b3-sampled': '1',
  'x-b3-flags': '0',
};
const FORWARDED = [...Object.keys(TRACE), 'end-user'];

describe('bookinfo', () => {
  const running: RunningSample[] = [];
  let ratingsRelay: Relay;
  let reviewsRelay: Relay;
  let detailsRelay: Relay;
  let reviews: Record<'v1' | 'v2' | 'v3', RunningSample>;
  let ratings: RunningSample;
  let details: RunningSample;
  let productpage: RunningSample;

  const start = async (file: string, env: Record<string, string>): Promise<RunningSample> => {
    const sample = await startSample(file, env);
    running.push(sample);
    return sample;
  };

  before(async () => {
    [ratings, details] = await Promise.all([start('bookinfo/ratings.ts', {}), start('bookinfo/details.ts', {})]);
    ratingsRelay = await startRelay(ratings.port);
    detailsRelay = await startRelay(details.port);
    const ratingsEnv = { RATINGS_HOSTNAME: '127.0.0.1', RATINGS_SERVICE_PORT: String(ratingsRelay.port) };
    const [v1, v2, v3] = await Promise.all([
      start('bookinfo/reviews.ts', { ...ratingsEnv, SERVICE_VERSION: 'v1', ENABLE_RATINGS: 'false', POD_NAME: 'reviews-v1-0' }),
      start('bookinfo/reviews.ts', { ...ratingsEnv, SERVICE_VERSION: 'v2', ENABLE_RATINGS: 'true', STAR_COLOR: 'black', POD_NAME: 'reviews-v2-0' }),
      start('bookinfo/reviews.ts', { ...ratingsEnv, SERVICE_VERSION: 'v3', ENABLE_RATINGS: 'true', STAR_COLOR: 'red', POD_NAME: 'reviews-v3-0' }),
    ]);
    reviews = { v1, v2, v3 };
    reviewsRelay = await startRelay(v1.port);
    productpage = await start('bookinfo/productpage.ts', {
      DETAILS_HOSTNAME: '127.0.0.1', DETAILS_SERVICE_PORT: String(detailsRelay.port),
      REVIEWS_HOSTNAME: '127.0.0.1', REVIEWS_SERVICE_PORT: String(reviewsRelay.port),
      RATINGS_HOSTNAME: '127.0.0.1', RATINGS_SERVICE_PORT: String(ratingsRelay.port),
    });
  });

  after(async () => {
    await Promise.all([...running.map((s) => s.stop()), ratingsRelay?.close(), reviewsRelay?.close(), detailsRelay?.close()]);
  });

  const page = async (headers: Record<string, string> = {}): Promise<string> => {
    const response = await fetch(`${productpage.url}/productpage`, { headers });
    assert.equal(response.status, 200);
    return response.text();
  };
  const starsOf = (html: string): string[] => [...html.matchAll(/data-stars="(\d)" data-color="(\w+)"/g)].map((m) => `${m[1]} ${m[2]}`);

  it('answers /health on every service', async () => {
    for (const sample of [ratings, details, reviews.v1, reviews.v2, reviews.v3, productpage]) {
      const response = await fetch(`${sample.url}/health`);
      assert.equal(response.status, 200, sample.url);
      await response.text();
    }
  });

  it('prints "listening on <port>" and logs each request', () => {
    assert.match(details.output(), new RegExp(`^listening on ${details.port}$`, 'm'));
    assert.match(details.output(), /^GET \/health 200 \d+ms$/m);
  });

  it('renders reviews v1 without stars, naming the replica that served them', async () => {
    reviewsRelay.target = reviews.v1.port;
    const html = await page();
    assert.match(html, /The Comedy of Errors/);
    assert.match(html, /An extremely entertaining play by Shakespeare/);
    assert.match(html, /Reviews served by: reviews-v1-0/);
    assert.match(html, /<dt>Publisher:<\/dt><dd>PublisherA<\/dd>/);
    assert.deepEqual(starsOf(html), []);
  });

  it('renders black stars from reviews v2 and red stars from reviews v3', async () => {
    reviewsRelay.target = reviews.v2.port;
    const v2 = await page();
    assert.match(v2, /Reviews served by: reviews-v2-0/);
    assert.deepEqual(starsOf(v2), ['5 black', '4 black']);
    assert.match(v2, /★★★★★/);
    assert.match(v2, /★★★★☆/);
    reviewsRelay.target = reviews.v3.port;
    const v3 = await page();
    assert.match(v3, /Reviews served by: reviews-v3-0/);
    assert.deepEqual(starsOf(v3), ['5 red', '4 red']);
  });

  it('forwards the trace headers and end-user to details, reviews and on to ratings', async () => {
    reviewsRelay.target = reviews.v2.port;
    for (const relay of [detailsRelay, reviewsRelay, ratingsRelay]) relay.requests.length = 0;
    await page({ ...TRACE, 'end-user': 'jason' });
    const expected = { ...TRACE, 'end-user': 'jason' };
    assert.deepEqual(headersOf(detailsRelay.requests[0], FORWARDED), expected);
    assert.deepEqual(headersOf(reviewsRelay.requests[0], FORWARDED), expected);
    assert.deepEqual(headersOf(ratingsRelay.requests[0], FORWARDED), expected);
    assert.equal(reviewsRelay.requests[0]!.url, '/reviews/0');
    assert.equal(ratingsRelay.requests[0]!.url, '/ratings/0');
  });

  it('signs a user in with a cookie, sends end-user for them, and signs them out', async () => {
    const login = await fetch(`${productpage.url}/login`, {
      method: 'POST',
      body: new URLSearchParams({ username: 'jason', passwd: 'x' }),
      headers: { referer: `${productpage.url}/productpage` },
      redirect: 'manual',
    });
    assert.equal(login.status, 302);
    assert.equal(login.headers.get('location'), '/productpage');
    const cookie = login.headers.get('set-cookie') ?? '';
    assert.match(cookie, /^user=jason;/);

    reviewsRelay.requests.length = 0;
    const html = await page({ cookie: 'user=jason', 'end-user': 'someone-else' });
    assert.match(html, /jason \( <a href="logout">sign out<\/a> \)/);
    assert.equal(reviewsRelay.requests[0]!.headers['end-user'], 'jason');

    const logout = await fetch(`${productpage.url}/logout`, { headers: { cookie: 'user=jason' }, redirect: 'manual' });
    assert.equal(logout.status, 302);
    assert.match(logout.headers.get('set-cookie') ?? '', /^user=; Path=\/; Max-Age=0/);
  });

  it('refuses a user name that could not travel in a header', async () => {
    const response = await fetch(`${productpage.url}/login`, { method: 'POST', body: new URLSearchParams({ username: 'a b\r\n' }), redirect: 'manual' });
    assert.equal(response.status, 400);
    await response.text();
  });

  it('says reviews are unavailable after trying twice when reviews fails', async () => {
    reviewsRelay.reply = { status: 503, body: '{"error":"no healthy upstream"}' };
    reviewsRelay.requests.length = 0;
    try {
      const html = await page();
      assert.match(html, /Sorry, product reviews are currently unavailable for this book\./);
      assert.equal(reviewsRelay.requests.length, 2);
      const api = await fetch(`${productpage.url}/api/v1/products/0/reviews`);
      assert.equal(api.status, 503);
      assert.deepEqual(await api.json(), { error: 'Sorry, product reviews are currently unavailable for this book.' });
    } finally {
      reviewsRelay.reply = undefined;
    }
  });

  it('shows "Ratings service is currently unavailable" when ratings fails', async () => {
    ratingsRelay.reply = { status: 500, body: '{"error":"fault filter abort"}' };
    try {
      reviewsRelay.target = reviews.v2.port;
      const html = await page();
      assert.match(html, /Ratings service is currently unavailable/);
      assert.deepEqual(starsOf(html), []);
    } finally {
      ratingsRelay.reply = undefined;
    }
  });

  it('gives up on a slow ratings after 2.5 s in v3 (red stars), as Istio\'s reviews does', async () => {
    ratingsRelay.reply = { status: 200, body: '{"id":0,"ratings":{"Reviewer1":1,"Reviewer2":1}}', delayMs: 4000 };
    try {
      const started = performance.now();
      const response = await fetch(`${reviews.v3.url}/reviews/0`);
      const elapsed = performance.now() - started;
      const body = await response.json() as { reviews: { rating: unknown }[] };
      assert.deepEqual(body.reviews[0]!.rating, { error: 'Ratings service is currently unavailable' });
      assert.ok(elapsed >= 2400 && elapsed < 3900, `answered after ${Math.round(elapsed)}ms`);
    } finally {
      ratingsRelay.reply = undefined;
    }
  });

  it('serves the JSON API', async () => {
    reviewsRelay.target = reviews.v3.port;
    const products = await (await fetch(`${productpage.url}/api/v1/products`)).json() as { id: number; title: string }[];
    assert.deepEqual(products.map((p) => [p.id, p.title]), [[0, 'The Comedy of Errors']]);
    const detailsBody = await (await fetch(`${productpage.url}/api/v1/products/0`)).json() as Record<string, unknown>;
    assert.equal(detailsBody['ISBN-10'], '1234567890');
    const reviewsBody = await (await fetch(`${productpage.url}/api/v1/products/0/reviews`)).json() as Record<string, unknown>;
    assert.equal(reviewsBody['podname'], 'reviews-v3-0');
    assert.equal(reviewsBody['version'], 'v3');
    assert.deepEqual(await (await fetch(`${productpage.url}/api/v1/products/0/ratings`)).json(), { id: 0, ratings: { Reviewer1: 5, Reviewer2: 4 } });
    const bad = await fetch(`${productpage.url}/api/v1/products/zero`);
    assert.equal(bad.status, 400);
    await bad.text();
  });

  it('serves the pages the gateway routes: index, static and 404 for others', async () => {
    const index = await fetch(`${productpage.url}/`);
    assert.match(await index.text(), /productpage\?u=normal/);
    const css = await fetch(`${productpage.url}/static/bookinfo.css`);
    assert.equal(css.headers.get('content-type'), 'text/css; charset=utf-8');
    await css.text();
    const missing = await fetch(`${productpage.url}/nothing`);
    assert.equal(missing.status, 404);
    await missing.text();
  });

  it('answers details, reviews and ratings directly with Istio\'s shapes', async () => {
    assert.deepEqual(await (await fetch(`${details.url}/details/7`)).json(), {
      id: 7, author: 'William Shakespeare', year: 1595, type: 'paperback', pages: 200, publisher: 'PublisherA', language: 'English',
      'ISBN-10': '1234567890', 'ISBN-13': '123-1234567890',
    });
    const v1 = await (await fetch(`${reviews.v1.url}/reviews/0`)).json() as { id: string; podname: string; reviews: Record<string, unknown>[] };
    assert.equal(v1.id, '0');
    assert.equal(v1.podname, 'reviews-v1-0');
    assert.equal(v1.reviews[0]!['rating'], undefined);
    const posted = await fetch(`${ratings.url}/ratings/1`, { method: 'POST', body: JSON.stringify({ Reviewer1: 3, Reviewer2: 1 }) });
    assert.deepEqual(await posted.json(), { id: 1, ratings: { Reviewer1: 3, Reviewer2: 1 } });
    assert.deepEqual(await (await fetch(`${ratings.url}/ratings/1`)).json(), { id: 1, ratings: { Reviewer1: 3, Reviewer2: 1 } });
    const invalid = await fetch(`${ratings.url}/ratings/1`, { method: 'POST', body: '{"Reviewer1": 9}' });
    assert.equal(invalid.status, 400);
    await invalid.text();
  });

  it('calls the others by their Kubernetes names through an explicit-mode sidecar (HTTP_PROXY, NODE_USE_ENV_PROXY=1)', async () => {
    const proxy = await startForwardProxy({ 'details:9080': details.port, 'ratings:9080': ratings.port });
    try {
      const explicit = { HTTP_PROXY: `http://127.0.0.1:${proxy.port}`, NODE_USE_ENV_PROXY: '1', NO_PROXY: 'localhost,127.0.0.1,::1,[::1]' };
      const reviewsV2 = await start('bookinfo/reviews.ts', { ...explicit, SERVICE_VERSION: 'v2', POD_NAME: 'reviews-v2-1' });
      proxy.routes['reviews:9080'] = reviewsV2.port;
      const page = await start('bookinfo/productpage.ts', explicit);
      const html = await (await fetch(`${page.url}/productpage`)).text();
      assert.match(html, /Reviews served by: reviews-v2-1/);
      assert.deepEqual(starsOf(html), ['5 black', '4 black']);
      assert.deepEqual([...proxy.seen].sort(), ['ABSOLUTE details:9080', 'ABSOLUTE ratings:9080', 'ABSOLUTE reviews:9080']);
    } finally {
      await proxy.close();
    }
  });
});
