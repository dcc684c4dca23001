/**
 * Bookinfo's details service: the book's facts, at GET /details/<id>.
 * Environment: PORT (default 9080), HOST.
 */
import { sendJson, serve } from '../shared/http-service.ts';

serve('details', 9080, (request, response, url) => {
  if (request.method === 'GET' && url.pathname === '/health') {
    sendJson(response, 200, { status: 'Details is healthy' });
    return;
  }
  const match = /^\/details\/([^/]*)$/.exec(url.pathname);
  if (request.method === 'GET' && match !== null) {
    const id = /^\d+$/.test(match[1]!) ? Number(match[1]) : undefined;
    if (id === undefined) {
      sendJson(response, 400, { error: 'please provide numeric product id' });
      return;
    }
    sendJson(response, 200, {
      id,
      author: 'William Shakespeare',
      year: 1595,
      type: 'paperback',
      pages: 200,
      publisher: 'PublisherA',
      language: 'English',
      'ISBN-10': '1234567890',
      'ISBN-13': '123-1234567890',
    });
    return;
  }
  sendJson(response, 404, { error: `no route for ${request.method} ${url.pathname}` });
});
