import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const weft = fileURLToPath(new URL('../../bin/weft.js', import.meta.url));
const seeds = fileURLToPath(new URL('../../../shared/seed-examples/', import.meta.url));

function run(args: string[], options: { cwd?: string; input?: string } = {}): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [weft, ...args], { encoding: 'utf8', timeout: 30_000, cwd: options.cwd, input: options.input ?? '' });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function workdir(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'weft-analyze-'));
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return dir;
}

const REVIEWS_SERVICE = `apiVersion: v1
kind: Service
metadata:
  name: reviews
spec:
  selector: {app: reviews}
  ports:
  - name: http
    port: 9080
`;

describe('weft analyze (as a process)', () => {
  it('says clean input is clean in one line and exits 0', () => {
    const dir = workdir({ 'reviews.yaml': REVIEWS_SERVICE });
    const result = run(['analyze', '-f', 'reviews.yaml'], { cwd: dir });
    assert.equal(result.stdout, '✔ No validation issues found when analyzing namespace: default.\n');
    assert.equal(result.status, 0);
  });

  it('reports a schema error with file, line, column, resource and field path, and exits 79', () => {
    const dir = workdir({
      'vs.yaml': `${REVIEWS_SERVICE}---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: {host: reviews, subsets: v2}
`,
    });
    const result = run(['analyze', '-f', 'vs.yaml'], { cwd: dir });
    assert.equal(
      result.stdout,
      'Error [WFT0106] (VirtualService default/reviews vs.yaml:19:36) spec.http[0].route[0].destination.subsets: unknown field "subsets" (did you mean "subset"?)\n',
    );
    assert.match(result.stderr, /Analyzers found issues/);
    assert.equal(result.status, 79);
  });

  it('reads directories recursively and standard input', () => {
    const dir = workdir({ 'nested/deeper/reviews.yaml': REVIEWS_SERVICE });
    assert.equal(run(['analyze', '-f', '.'], { cwd: dir }).status, 0);
    const fromStdin = run(['analyze', '-f', '-'], { cwd: dir, input: 'apiVersion: v1\nkind: Service\nmetadata: {name: x}\nspec: {ports: [{port: 0}]}\n' });
    assert.equal(fromStdin.status, 79);
    assert.match(fromStdin.stdout, /^Error \[WFT0106\] \(Service default\/x <stdin>:4:23\) spec\.ports\[0\]\.port: must be at least 1, got integer 0$/m);
  });

  it('prints JSON with code, level, name, resource, origin and path', () => {
    const dir = workdir({ 'bad.json': JSON.stringify({ apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'r' }, spec: { hosts: ['r'], http: [{ route: [{ destination: { host: 'r' } }], timeout: 'soon' }] } }) });
    const result = run(['analyze', '-f', 'bad.json', '-o', 'json'], { cwd: dir });
    assert.equal(result.status, 79);
    const records = JSON.parse(result.stdout) as Array<Record<string, unknown>>;
    const timeout = records.find((r) => r['path'] === 'spec.http[0].timeout');
    assert.deepEqual(timeout, {
      code: 'WFT0106',
      level: 'Error',
      name: 'SchemaValidationError',
      message: '"soon" is not a duration (expected a number with a unit: ns, us, ms, s, m, h, e.g. "1.5s" or "100ms")',
      resource: { kind: 'VirtualService', namespace: 'default', name: 'r' },
      origin: { file: 'bad.json', line: 1, column: 168 },
      path: 'spec.http[0].timeout',
    });
  });

  it('explains the removed apps/v1beta1 Deployment of the seed tutorial and still reads its Service', () => {
    const result = run(['analyze', '-f', join(seeds, '002-order-service.yaml'), '-o', 'json']);
    assert.equal(result.status, 79);
    const records = JSON.parse(result.stdout) as Array<{ code: string; message: string; resource?: { kind: string } }>;
    const removed = records.filter((r) => r.code === 'WFT0107');
    assert.equal(removed.length, 1);
    assert.equal(removed[0]!.resource?.kind, 'Deployment');
    assert.match(removed[0]!.message, /"apps\/v1beta1" of Deployment was removed in Kubernetes 1\.16; use "apps\/v1" instead/);
    assert.match(removed[0]!.message, /requires spec\.selector/);
    assert.ok(!records.some((r) => r.resource?.kind === 'Service' && r.code === 'WFT0106'));
  });

  it('refuses unknown formats and missing files with exit status 2', () => {
    assert.equal(run(['analyze', '-f', 'nowhere.yaml']).status, 2);
    assert.equal(run(['analyze', '-f', seeds, '-o', 'xml']).status, 2);
    assert.equal(run(['analyze']).status, 2);
    assert.equal(run(['analyse']).status, 2);
  });
});
