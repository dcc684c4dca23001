/**
 * What every sample service does the same way: listen where `weft up` says, announce the port,
 * answer in JSON, log each request, and stop cleanly on SIGTERM or SIGINT.
 *
 * The port comes from `PORT` (which `weft up` always sets), else the service's usual port. `PORT=0`
 * lets the system pick a free one; the service then prints `listening on <port>` on stdout, as it
 * does for any port, so that whoever started it (a test, `weft up`) can learn which. The address
 * comes from `HOST`, by default the loopback address, where the sidecar reaches the app.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';

export type Handler = (request: IncomingMessage, response: ServerResponse, url: URL) => Promise<void> | void;

const MAX_BODY_BYTES = 1024 * 1024;

/** Starts the HTTP server of a sample service; `defaultPort` applies when `PORT` is not set. */
export function serve(name: string, defaultPort: number, handle: Handler): Server {
  const server = createServer((request, response) => {
    const started = performance.now();
    response.on('finish', () => {
      process.stdout.write(`${request.method} ${request.url} ${response.statusCode} ${Math.round(performance.now() - started)}ms\n`);
    });
    const url = new URL(request.url ?? '/', 'http://localhost');
    Promise.resolve()
      .then(() => handle(request, response, url))
      .catch((error: unknown) => {
        process.stderr.write(`${name}: ${request.method} ${request.url} failed: ${String(error)}\n`);
        if (!response.headersSent) sendJson(response, 500, { error: `${name} failed to handle the request` });
        else response.destroy();
      });
  });
  const port = Number(process.env['PORT'] ?? defaultPort);
  const host = process.env['HOST'] ?? '127.0.0.1';
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    process.stderr.write(`${name}: PORT must be a port number 0..65535, got "${process.env['PORT']}"\n`);
    process.exit(2);
  }
  server.on('error', (error: NodeJS.ErrnoException) => {
    const hint = error.code === 'EACCES' ? ' (a privileged port: set PORT to a port above 1023)' : error.code === 'EADDRINUSE' ? ' (already in use: set PORT to a free port, or 0)' : '';
    process.stderr.write(`${name}: cannot listen on ${host}:${port}: ${error.message}${hint}\n`);
    process.exit(1);
  });
  server.listen(port, host, () => {
    process.stdout.write(`listening on ${(server.address() as AddressInfo).port}\n`);
  });
  const stop = (): void => {
    server.close(() => process.exit(0));
    server.closeIdleConnections();
    setTimeout(() => process.exit(0), 2000).unref();
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  return server;
}

export function sendJson(response: ServerResponse, status: number, body: unknown, headers: Record<string, string | string[]> = {}): void {
  const text = `${JSON.stringify(body)}\n`;
  response.writeHead(status, { ...headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  response.end(text);
}

export function sendText(response: ServerResponse, status: number, text: string, contentType = 'text/plain; charset=utf-8', headers: Record<string, string | string[]> = {}): void {
  response.writeHead(status, { ...headers, 'content-type': contentType, 'content-length': Buffer.byteLength(text) });
  response.end(text);
}

/** The request body as text, refused beyond 1 MiB. */
export async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new Error('request body larger than 1 MiB');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** The request body parsed as a JSON object, or undefined when it is not one. */
export async function readJsonObject(request: IncomingMessage): Promise<Record<string, unknown> | undefined> {
  try {
    const value: unknown = JSON.parse(await readBody(request));
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** The replica's name: `POD_NAME` from `weft up` (or Kubernetes' downward API), else the host name. */
export function podName(): string {
  return process.env['POD_NAME'] ?? hostname();
}
