/**
 * Bookinfo's product page: the page at /productpage shows the book, its details (from details)
 * and its reviews (from reviews, which from v2 on asks ratings), and a JSON API under
 * /api/v1/products. The ingress gateway routes /productpage, /static, /login, /logout and
 * /api/v1/products here.
 *
 * Signing in (POST /login with a `username`) sets a `user` cookie, and every call made for a
 * signed-in user carries `end-user: <name>`, which routing rules match (`end-user: jason` gets
 * reviews v2 in virtual-service-reviews-test-v2.yaml). A request that already carries `end-user`
 * (`curl -H 'end-user: jason' ...`) is forwarded as is when nobody is signed in. The trace headers
 * (PROPAGATED_HEADERS) are forwarded too.
 *
 * Calls time out after 3 s, and reviews is tried twice, as in Istio's sample: a 7 s delay injected
 * on ratings makes the reviews part of the page fail ("Sorry, product reviews are currently
 * unavailable for this book.") after 6 s, which is what Istio's fault-injection task shows.
 *
 * Environment: DETAILS_HOSTNAME, REVIEWS_HOSTNAME, RATINGS_HOSTNAME (defaults details, reviews,
 * ratings), their *_SERVICE_PORT (default 9080), SERVICES_DOMAIN (appended to each name), PORT
 * (default 9080), HOST.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { readBody, sendJson, sendText, serve } from '../shared/http-service.ts';
import { call, parseJson, propagatedHeaders, serviceAddress, type CallResult } from '../shared/outbound.ts';

const TIMEOUT_MS = 3000;
const REVIEWS_ATTEMPTS = 2;
const details = serviceAddress('DETAILS', 'details', 9080);
const reviews = serviceAddress('REVIEWS', 'reviews', 9080);
const ratings = serviceAddress('RATINGS', 'ratings', 9080);

/** A user name is sent as a header value and kept in a cookie, so it is held to a safe alphabet. */
const USER_NAME = /^[A-Za-z0-9._@-]{1,64}$/;

const PRODUCTS = [
  {
    id: 0,
    title: 'The Comedy of Errors',
    descriptionHtml: '<a href="https://en.wikipedia.org/wiki/The_Comedy_of_Errors">Wikipedia Summary</a>: The Comedy of Errors is one of <b>William Shakespeare\'s</b> early plays. It is his shortest and one of his most farcical comedies, with a major part of the humour coming from slapstick and mistaken identity, in addition to puns and word play.',
  },
];

interface Fetched {
  readonly status: number;
  readonly body: Record<string, unknown>;
}

/** The signed-in user, from the `user` cookie. */
function sessionUser(request: IncomingMessage): string | undefined {
  for (const part of (request.headers.cookie ?? '').split(';')) {
    const [name, ...rest] = part.trim().split('=');
    if (name !== 'user') continue;
    const value = decodeURIComponent(rest.join('='));
    return USER_NAME.test(value) ? value : undefined;
  }
  return undefined;
}

function forwardHeaders(request: IncomingMessage): Record<string, string> {
  const headers = propagatedHeaders(request);
  const user = sessionUser(request);
  if (user !== undefined) headers['end-user'] = user;
  return headers;
}

/** One GET to a backend; any failure is a status and an error body, as Istio's sample reports it. */
async function fetchFrom(url: string, headers: Record<string, string>, attempts: number, error: string): Promise<Fetched> {
  let last: CallResult | undefined;
  for (let attempt = 0; attempt < attempts; attempt++) {
    try {
      last = await call(url, { headers, timeoutMs: TIMEOUT_MS });
    } catch (e) {
      process.stderr.write(`productpage: ${url}: ${String(e)}\n`);
      last = undefined;
    }
    const body = last !== undefined ? parseJson(last) : undefined;
    if (last?.status === 200 && typeof body === 'object' && body !== null) return { status: 200, body: body as Record<string, unknown> };
  }
  return { status: last !== undefined && last.status !== 200 ? last.status : 500, body: { error } };
}

const fetchDetails = (id: number, headers: Record<string, string>) =>
  fetchFrom(`${details}/details/${id}`, headers, 1, 'Sorry, product details are currently unavailable for this book.');
const fetchReviews = (id: number, headers: Record<string, string>) =>
  fetchFrom(`${reviews}/reviews/${id}`, headers, REVIEWS_ATTEMPTS, 'Sorry, product reviews are currently unavailable for this book.');
const fetchRatings = (id: number, headers: Record<string, string>) =>
  fetchFrom(`${ratings}/ratings/${id}`, headers, 1, 'Sorry, product ratings are currently unavailable for this book.');

function escapeHtml(value: unknown): string {
  return String(value).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function redirectBack(request: IncomingMessage, response: ServerResponse, cookie: string): void {
  const referer = request.headers.referer;
  // Only a path is followed, so a forged Referer cannot send the user elsewhere.
  const path = referer !== undefined ? new URL(referer, 'http://localhost').pathname : '/productpage';
  response.writeHead(302, { location: path.startsWith('/') && !path.startsWith('//') ? path : '/productpage', 'set-cookie': cookie, 'content-length': 0 });
  response.end();
}

async function login(request: IncomingMessage, response: ServerResponse): Promise<void> {
  const form = new URLSearchParams(await readBody(request));
  const user = form.get('username') ?? '';
  if (!USER_NAME.test(user)) {
    sendText(response, 400, 'username must be 1 to 64 letters, digits, ".", "_", "@" or "-"\n');
    return;
  }
  redirectBack(request, response, `user=${encodeURIComponent(user)}; Path=/; HttpOnly; SameSite=Lax`);
}

function renderReview(review: Record<string, unknown>): string {
  const rating = review['rating'] as { stars?: unknown; color?: unknown; error?: unknown } | undefined;
  let stars = '';
  if (typeof rating?.stars === 'number') {
    const count = Math.max(0, Math.min(5, Math.round(rating.stars)));
    const color = typeof rating.color === 'string' && /^[a-z]+$/.test(rating.color) ? rating.color : 'black';
    stars = `<div class="stars" data-stars="${count}" data-color="${color}" style="color: ${color}">${'★'.repeat(count)}${'☆'.repeat(5 - count)}</div>`;
  } else if (rating?.error !== undefined) {
    stars = `<p class="rating-error"><i>${escapeHtml(rating.error)}</i></p>`;
  }
  return `<blockquote><p>${escapeHtml(review['text'])}</p><small>${escapeHtml(review['reviewer'])}</small>${stars}</blockquote>`;
}

function renderPage(user: string | undefined, detailsResult: Fetched, reviewsResult: Fetched): string {
  const product = PRODUCTS[0]!;
  const d = detailsResult.body;
  const detailsHtml = detailsResult.status === 200
    ? `<h4>Book Details</h4><dl>${[['Type', 'type'], ['Pages', 'pages'], ['Publisher', 'publisher'], ['Language', 'language'], ['ISBN-10', 'ISBN-10'], ['ISBN-13', 'ISBN-13']]
      .map(([label, key]) => `<dt>${label}:</dt><dd>${escapeHtml(d[key!] ?? '')}</dd>`).join('')}</dl>`
    : `<h4>Error fetching product details!</h4><p>${escapeHtml(d['error'])}</p>`;
  const r = reviewsResult.body;
  const reviewList = Array.isArray(r['reviews']) ? (r['reviews'] as Record<string, unknown>[]) : [];
  const reviewsHtml = reviewsResult.status === 200
    ? `<h4>Book Reviews</h4>${reviewList.map(renderReview).join('')}<p class="served-by">Reviews served by: ${escapeHtml(r['podname'] ?? 'unknown')}</p>`
    : `<h4>Error fetching product reviews!</h4><p>${escapeHtml(r['error'])}</p>`;
  const account = user !== undefined
    ? `<p class="user">${escapeHtml(user)} ( <a href="logout">sign out</a> )</p>`
    : '<form method="post" action="login" class="login"><input name="username" placeholder="User Name"> <input type="password" name="passwd" placeholder="Password"> <button type="submit">Sign in</button></form>';
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Simple Bookstore App</title><link rel="stylesheet" href="static/bookinfo.css"></head>
<body>
<nav><span class="brand">BookInfo Sample</span>${account}</nav>
<main>
<h1>${escapeHtml(product.title)}</h1>
<p>Summary: ${product.descriptionHtml}</p>
<div class="columns"><section class="details">${detailsHtml}</section><section class="reviews">${reviewsHtml}</section></div>
</main>
</body>
</html>
`;
}

const INDEX = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Simple Bookstore App</title><link rel="stylesheet" href="static/bookinfo.css"></head>
<body>
<nav><span class="brand">BookInfo Sample</span></nav>
<main>
<h1>Hello! This is a simple bookstore application consisting of three services as shown below</h1>
<pre>productpage ──► details
            └─► reviews (v1 | v2 | v3) ──► ratings (from v2 on)</pre>
<p>Click on one of the links below to auto generate a request to the backend as a real user or a tester:</p>
<p><a href="productpage?u=normal">Normal user</a></p>
<p><a href="productpage?u=test">Test user</a></p>
</main>
</body>
</html>
`;

const STYLESHEET = `body { font-family: system-ui, sans-serif; margin: 0; color: #1f2937; }
nav { display: flex; justify-content: space-between; align-items: center; background: #1e3a8a; color: white; padding: 0.75rem 1.5rem; }
nav a { color: #bfdbfe; }
main { padding: 1rem 1.5rem; max-width: 64rem; }
.columns { display: flex; gap: 2rem; flex-wrap: wrap; }
.columns section { flex: 1 1 20rem; }
dt { font-weight: bold; }
blockquote { border-left: 4px solid #93c5fd; margin: 1rem 0; padding-left: 1rem; }
.stars { font-size: 1.25rem; }
.served-by { font-family: monospace; color: #6b7280; }
`;

serve('productpage', 9080, async (request, response, url) => {
  const path = url.pathname;
  const method = request.method ?? 'GET';
  if (method === 'GET' && path === '/health') return sendText(response, 200, 'Product page is healthy');
  if (method === 'GET' && (path === '/' || path === '/index.html')) return sendText(response, 200, INDEX, 'text/html; charset=utf-8');
  if (method === 'GET' && path === '/static/bookinfo.css') return sendText(response, 200, STYLESHEET, 'text/css; charset=utf-8');
  if (method === 'POST' && path === '/login') return login(request, response);
  if (method === 'GET' && path === '/logout') return redirectBack(request, response, 'user=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax');
  if (method === 'GET' && path === '/productpage') {
    const headers = forwardHeaders(request);
    const [detailsResult, reviewsResult] = await Promise.all([fetchDetails(0, headers), fetchReviews(0, headers)]);
    return sendText(response, 200, renderPage(sessionUser(request), detailsResult, reviewsResult), 'text/html; charset=utf-8');
  }
  if (method === 'GET' && path === '/api/v1/products') return sendJson(response, 200, PRODUCTS);
  const api = /^\/api\/v1\/products\/([^/]+)(?:\/(reviews|ratings))?$/.exec(path);
  if (method === 'GET' && api !== null) {
    if (!/^\d+$/.test(api[1]!)) return sendJson(response, 400, { error: 'please provide numeric product id' });
    const id = Number(api[1]);
    const fetcher = api[2] === 'reviews' ? fetchReviews : api[2] === 'ratings' ? fetchRatings : fetchDetails;
    const result = await fetcher(id, forwardHeaders(request));
    return sendJson(response, result.status, result.body);
  }
  return sendText(response, 404, `no route for ${method} ${path}\n`);
});
