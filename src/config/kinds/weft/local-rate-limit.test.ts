import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ofKind, type ParsedConfig } from '../../index.ts';
import { assertValid, parseYaml, problems, resourceYaml } from '../../test-support.ts';

/** Parses one LocalRateLimit named reviews-limit whose spec is `spec`, written without indentation. */
function limit(spec: string): ParsedConfig {
  return parseYaml(resourceYaml('policy.weft.dev/v1alpha1', 'LocalRateLimit', spec, { name: 'reviews-limit', namespace: 'default' }));
}

function findings(spec: string): string[] {
  return problems(limit(spec));
}

const BUCKET = '{maxTokens: 10, tokensPerFill: 10, fillInterval: 1m}';

describe('LocalRateLimit', () => {
  describe('accepted forms', () => {
    it('accepts every field and keeps what was written', () => {
      const result = limit(`
selector: {matchLabels: {app: reviews}}
tokenBucket: {maxTokens: 100, tokensPerFill: 50, fillInterval: 1s}
routes:
- virtualService: bookinfo
  route: reviews-v2
  tokenBucket: ${BUCKET}
- {virtualService: shop/storefront, route: checkout, tokenBucket: {maxTokens: 1, tokensPerFill: 1, fillInterval: 50ms}}
status: 503
`);
      assertValid(result);
      assert.deepEqual(ofKind(result.resources, 'LocalRateLimit')[0]!.object.spec, {
        selector: { matchLabels: { app: 'reviews' } },
        tokenBucket: { maxTokens: 100, tokensPerFill: 50, fillInterval: '1s' },
        routes: [
          { virtualService: 'bookinfo', route: 'reviews-v2', tokenBucket: { maxTokens: 10, tokensPerFill: 10, fillInterval: '1m' } },
          { virtualService: 'shop/storefront', route: 'checkout', tokenBucket: { maxTokens: 1, tokensPerFill: 1, fillInterval: '50ms' } },
        ],
        status: 503,
      });
    });

    it('defaults the status to 429 and the route limits to none', () => {
      const result = limit(`tokenBucket: ${BUCKET}`);
      assertValid(result);
      const spec = ofKind(result.resources, 'LocalRateLimit')[0]!.object.spec;
      assert.equal(spec.status, 429);
      assert.deepEqual(spec.routes, []);
      assert.equal(spec.selector, undefined);
    });

    it('accepts an empty spec, which lifts broader limits from the workloads it selects', () => {
      assert.deepEqual(findings('{}'), []);
    });

    it('requires a spec', () => {
      assert.deepEqual(problems(parseYaml('apiVersion: policy.weft.dev/v1alpha1\nkind: LocalRateLimit\nmetadata: {name: x}\n')), ['spec: required field is missing']);
    });

    it('is served only as policy.weft.dev/v1alpha1', () => {
      assert.deepEqual(problems(parseYaml('apiVersion: networking.istio.io/v1\nkind: LocalRateLimit\nmetadata: {name: x}\nspec: {}\n')), [
        'apiVersion: "networking.istio.io/v1" is not valid for LocalRateLimit: LocalRateLimit belongs to the group policy.weft.dev; use policy.weft.dev/v1alpha1',
      ]);
    });
  });

  describe('tokenBucket', () => {
    it('requires every field', () => {
      assert.deepEqual(findings('tokenBucket: {maxTokens: 10}'), [
        'spec.tokenBucket.tokensPerFill: required field is missing',
        'spec.tokenBucket.fillInterval: required field is missing',
      ]);
    });

    it('wants positive whole numbers of tokens', () => {
      assert.deepEqual(findings('tokenBucket: {maxTokens: 0, tokensPerFill: 1.5, fillInterval: 1s}'), [
        'spec.tokenBucket.maxTokens: must be at least 1, got integer 0',
        'spec.tokenBucket.tokensPerFill: expected an integer, got number 1.5',
      ]);
      assert.deepEqual(findings('tokenBucket: {maxTokens: 4294967296, tokensPerFill: "10", fillInterval: 1s}'), [
        'spec.tokenBucket.maxTokens: must be at most 4294967295, got integer 4294967296',
        'spec.tokenBucket.tokensPerFill: expected a number, got string "10"',
      ]);
    });

    it('wants a fill interval of at least 50ms, with a unit', () => {
      assert.deepEqual(findings('tokenBucket: {maxTokens: 1, tokensPerFill: 1, fillInterval: 10ms}'), [
        'spec.tokenBucket.fillInterval: duration must be at least 50ms, got "10ms"',
      ]);
      assert.deepEqual(findings('tokenBucket: {maxTokens: 1, tokensPerFill: 1, fillInterval: 1}'), [
        'spec.tokenBucket.fillInterval: expected a duration such as "10s" or "100ms", got the number 1 (add a unit)',
      ]);
      assert.deepEqual(findings('tokenBucket: {maxTokens: 1, tokensPerFill: 1, fillInterval: 1 minute}'), [
        'spec.tokenBucket.fillInterval: "1 minute" is not a duration (expected a number with a unit: ns, us, ms, s, m, h, e.g. "1.5s" or "100ms")',
      ]);
    });
  });

  describe('routes', () => {
    it('requires a VirtualService, a route and a bucket', () => {
      assert.deepEqual(findings('routes: [{route: reviews-v2}]'), [
        'spec.routes[0].virtualService: required field is missing',
        'spec.routes[0].tokenBucket: required field is missing',
      ]);
    });

    it('rejects empty or malformed names', () => {
      assert.deepEqual(findings(`routes: [{virtualService: "", route: "", tokenBucket: ${BUCKET}}, {virtualService: a/b/c, route: r, tokenBucket: ${BUCKET}}, {virtualService: Shop/Store, route: r, tokenBucket: ${BUCKET}}]`), [
        'spec.routes[0].virtualService: must name a VirtualService (its name, or namespace/name)',
        'spec.routes[0].route: must name an http route of the VirtualService (its `name`)',
        'spec.routes[1].virtualService: "a/b/c" is not a VirtualService reference (write name or namespace/name)',
        'spec.routes[2].virtualService: "Shop" is not a namespace name (a DNS-1123 label)',
      ]);
    });

    it('checks the bucket of a route limit as the workload\'s', () => {
      assert.deepEqual(findings('routes: [{virtualService: bookinfo, route: r, tokenBucket: {maxTokens: 1, tokensPerFill: 0, fillInterval: 1ms}}]'), [
        'spec.routes[0].tokenBucket.tokensPerFill: must be at least 1, got integer 0',
        'spec.routes[0].tokenBucket.fillInterval: duration must be at least 50ms, got "1ms"',
      ]);
    });

    it('rejects limiting the same route twice', () => {
      assert.deepEqual(findings(`routes: [{virtualService: bookinfo, route: r, tokenBucket: ${BUCKET}}, {virtualService: bookinfo, route: r, tokenBucket: ${BUCKET}}]`), [
        'spec.routes[1]: route "r" of VirtualService bookinfo is already limited by routes[0]',
      ]);
    });
  });

  describe('status', () => {
    it('wants an error status that Envoy can send', () => {
      assert.deepEqual(findings('status: 200'), ['spec.status: must be at least 400, got integer 200']);
      assert.deepEqual(findings('status: 600'), ['spec.status: must be at most 599, got integer 600']);
      assert.deepEqual(findings('status: 499'), [
        'spec.status: Envoy cannot answer with 499; use one of the codes it names: 400-417, 421-424, 426, 428, 429 (the default), 431, 500-508, 510, 511',
      ]);
    });
  });

  describe('unknown fields', () => {
    it('suggests the field that was meant', () => {
      assert.deepEqual(findings('selector: {labels: {app: reviews}}\ntokenBuckets: {}'), [
        'spec.selector.labels: unknown field "labels"; expected one of: matchLabels',
        'spec.tokenBuckets: unknown field "tokenBuckets" (did you mean "tokenBucket"?)',
      ]);
    });

    it('places an error on the line of the field', () => {
      const result = limit(`tokenBucket: ${BUCKET}\nstatus: 200`);
      assert.equal(result.diagnostics[0]!.origin?.line, 8);
    });
  });
});
