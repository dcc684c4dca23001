/**
 * A client inside the mesh, for sending requests from a workload with a sidecar and seeing where
 * they went. Two modes:
 *
 * - As a workload (no arguments): an HTTP server whose `GET /fetch?url=<url>` makes the request
 *   from here and answers with what came back. More parameters: `count=N` (default 1),
 *   `header=name:value` (repeatable), `via=fetch|http` (Node's fetch, or node:http with its global
 *   agent; they reach an explicit-mode sidecar differently, see docs/local-workload.md),
 *   `timeout=5s`. Environment: PORT (default 8080), HOST.
 *
 * - As a command: `node samples/echo/client.ts URL [--count N] [--header 'name: value']...
 *   [--via fetch|http] [--timeout 5s] [--json]` sends the requests and prints how many got each
 *   status and which versions answered (the `version` of a JSON answer, as echo and bookinfo's
 *   reviews give it). It exits with 1 when a request failed without an answer.
 */
import { parseArgs } from 'node:util';
import { sendJson, serve } from '../shared/http-service.ts';
import { call } from '../shared/outbound.ts';
import { parseDurationMs } from './duration.ts';

const MAX_COUNT = 10_000;

type Via = 'fetch' | 'http';

interface ProbeOptions {
  readonly count: number;
  readonly headers: Record<string, string>;
  readonly via: Via;
  readonly timeoutMs: number;
}

interface Attempt {
  readonly status?: number;
  readonly version?: string;
  readonly durationMs: number;
  readonly error?: string;
  readonly body?: unknown;
}

interface Summary {
  readonly url: string;
  readonly via: Via;
  readonly count: number;
  readonly statuses: Record<string, number>;
  readonly versions: Record<string, number>;
  readonly errors: Record<string, number>;
  readonly results: Attempt[];
}

function versionOf(body: unknown): string | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const record = body as Record<string, unknown>;
  if (typeof record['version'] === 'string') return record['version'];
  const servedBy = record['servedBy'] as Record<string, unknown> | undefined;
  return typeof servedBy?.['version'] === 'string' ? servedBy['version'] : undefined;
}

function parseBody(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

async function once(url: string, options: ProbeOptions): Promise<Attempt> {
  const started = performance.now();
  const elapsed = (): number => Math.round(performance.now() - started);
  try {
    let status: number;
    let text: string;
    if (options.via === 'fetch') {
      const response = await fetch(url, { headers: options.headers, signal: AbortSignal.timeout(options.timeoutMs) });
      status = response.status;
      text = await response.text();
    } else {
      const result = await call(url, { headers: options.headers, timeoutMs: options.timeoutMs });
      status = result.status;
      text = result.body;
    }
    const body = parseBody(text);
    const version = versionOf(body);
    return { status, durationMs: elapsed(), body, ...(version !== undefined ? { version } : {}) };
  } catch (error) {
    // fetch wraps the network error ("fetch failed") around the one that says what happened.
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    const code = cause?.code ?? (error as { code?: string }).code ?? cause?.message;
    return { durationMs: elapsed(), error: code ?? (error instanceof Error ? error.name : String(error)) };
  }
}

function tally(map: Record<string, number>, key: string): void {
  map[key] = (map[key] ?? 0) + 1;
}

/** Sends `count` requests one after the other and counts what came back. */
async function probe(url: string, options: ProbeOptions): Promise<Summary> {
  const results: Attempt[] = [];
  const statuses: Record<string, number> = {};
  const versions: Record<string, number> = {};
  const errors: Record<string, number> = {};
  for (let i = 0; i < options.count; i++) {
    const attempt = await once(url, options);
    if (attempt.error !== undefined) tally(errors, attempt.error);
    if (attempt.status !== undefined) {
      tally(statuses, String(attempt.status));
      tally(versions, attempt.version ?? '-');
    }
    // One answer is shown whole; of many, only their outline.
    results.push(options.count === 1 ? attempt : { ...attempt, body: undefined });
  }
  return { url, via: options.via, count: options.count, statuses, versions, errors, results };
}

function parseHeader(text: string): [string, string] | undefined {
  const colon = text.indexOf(':');
  if (colon <= 0) return undefined;
  return [text.slice(0, colon).trim().toLowerCase(), text.slice(colon + 1).trim()];
}

/** The options common to both modes, or the reason they are wrong. */
function probeOptions(raw: { count?: string; header?: string[]; via?: string; timeout?: string }): ProbeOptions | string {
  const count = Number(raw.count ?? '1');
  if (!Number.isInteger(count) || count < 1 || count > MAX_COUNT) return `count must be a whole number 1..${MAX_COUNT}, got "${raw.count}"`;
  const via = raw.via ?? 'fetch';
  if (via !== 'fetch' && via !== 'http') return `via must be fetch or http, got "${via}"`;
  const timeoutMs = parseDurationMs(raw.timeout ?? '5s');
  if (timeoutMs === undefined || timeoutMs < 1) return `timeout must be a duration such as 5s or 500ms, got "${raw.timeout}"`;
  const headers: Record<string, string> = {};
  for (const text of raw.header ?? []) {
    const header = parseHeader(text);
    if (header === undefined) return `header must be written "name: value", got "${text}"`;
    headers[header[0]] = header[1];
  }
  return { count, headers, via, timeoutMs };
}

function share(map: Record<string, number>, total: number): string {
  return Object.entries(map).sort(([a], [b]) => a.localeCompare(b)).map(([key, n]) => `${key} ×${n} (${Math.round((n * 100) / total)}%)`).join(', ');
}

function printSummary(summary: Summary): void {
  const lines = [`${summary.count} request${summary.count === 1 ? '' : 's'} to ${summary.url} via ${summary.via}`];
  const answered = Object.values(summary.statuses).reduce((a, b) => a + b, 0);
  if (answered > 0) {
    lines.push(`  status:  ${share(summary.statuses, answered)}`);
    lines.push(`  version: ${share(summary.versions, answered)}`);
  }
  if (Object.keys(summary.errors).length > 0) lines.push(`  failed:  ${share(summary.errors, summary.count)}`);
  process.stdout.write(`${lines.join('\n')}\n`);
}

async function runCommand(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      options: {
        count: { type: 'string', short: 'n' },
        header: { type: 'string', short: 'H', multiple: true },
        via: { type: 'string' },
        timeout: { type: 'string' },
        json: { type: 'boolean' },
      },
    });
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n`);
    return 2;
  }
  const url = parsed.positionals[0];
  const options = probeOptions(parsed.values);
  if (url === undefined || parsed.positionals.length > 1 || typeof options === 'string') {
    process.stderr.write(`${typeof options === 'string' ? `${options}\n` : ''}usage: node samples/echo/client.ts URL [--count N] [--header 'name: value']... [--via fetch|http] [--timeout 5s] [--json]\n`);
    return 2;
  }
  const summary = await probe(url, options);
  if (parsed.values.json === true) process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
  else printSummary(summary);
  return Object.keys(summary.errors).length > 0 ? 1 : 0;
}

function runServer(): void {
  serve('echo-client', 8080, async (request, response, url) => {
    if (request.method === 'GET' && url.pathname === '/health') return sendJson(response, 200, { status: 'Client is healthy' });
    if (request.method !== 'GET' || url.pathname !== '/fetch') return sendJson(response, 404, { error: 'use GET /fetch?url=<url>[&count=N][&header=name:value][&via=fetch|http][&timeout=5s]' });
    const target = url.searchParams.get('url');
    if (target === null || !/^https?:\/\//.test(target)) return sendJson(response, 400, { error: 'url must be an http:// or https:// URL' });
    const options = probeOptions({
      count: url.searchParams.get('count') ?? undefined,
      header: url.searchParams.getAll('header'),
      via: url.searchParams.get('via') ?? undefined,
      timeout: url.searchParams.get('timeout') ?? undefined,
    });
    if (typeof options === 'string') return sendJson(response, 400, { error: options });
    return sendJson(response, 200, await probe(target, options));
  });
}

const args = process.argv.slice(2);
if (args.length === 0) runServer();
else process.exitCode = await runCommand(args);
