import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { builtinKinds, formatDiagnostic, parseSources, type SourceFile } from '../index.ts';
import { seedFiles, seedText } from '../test-support.ts';
import { analyze, builtinAnalyzers, createAnalysisContext, type Analyzer } from './index.ts';

const SEED_FILES = seedFiles();

function seed(name: string): SourceFile {
  return { name, text: seedText(name) };
}

function run(sources: SourceFile[], analyzers?: readonly Analyzer[]): string[] {
  const parsed = parseSources(sources, { kinds: builtinKinds() });
  return analyze(parsed.resources, analyzers === undefined ? {} : { analyzers }).map(formatDiagnostic);
}

const hostNotFound = (file: string, vs: string, line: number, host: string): string =>
  `Error [WFT0101] (VirtualService default/${vs} ${file}:${line}) Referenced host not found: "${host}"`;
const drHostNotFound = (file: string, dr: string, line: number, host: string): string =>
  `Warning [WFT0174] (DestinationRule default/${dr} ${file}:${line}) The host ${host} defined in the DestinationRule does not match any services in the mesh.`;
const JWT_WARNING = 'Warning [WFT0150] (AuthorizationPolicy default/require-jwt 002-security.yaml:27) The AuthorizationPolicy uses requestPrincipals but no RequestAuthentication applies to its workloads (app=booking-service), so requests are never authenticated by JWT and carry no request principal or claims. Add a RequestAuthentication that selects these workloads, or one in istio-system for the whole mesh.';

/** What each seed file produces when analyzed alone: the Services they route to are not in it. */
const ALONE: Record<string, string[]> = {
  '000-reviews-routing.yaml': [
    hostNotFound('000-reviews-routing.yaml', 'reviews-routing', 18, 'reviews'),
    hostNotFound('000-reviews-routing.yaml', 'reviews-routing', 22, 'reviews'),
    hostNotFound('000-reviews-routing.yaml', 'reviews-routing', 26, 'reviews'),
    drHostNotFound('000-reviews-routing.yaml', 'reviews-destination', 35, 'reviews'),
  ],
  '001-reviews.yaml': [
    hostNotFound('001-reviews.yaml', 'reviews', 18, 'reviews'),
    hostNotFound('001-reviews.yaml', 'reviews', 22, 'reviews'),
    hostNotFound('001-reviews.yaml', 'reviews', 26, 'reviews'),
    drHostNotFound('001-reviews.yaml', 'reviews', 35, 'reviews'),
  ],
  '001-security.yaml': [],
  '002-booking-gateway.yaml': [hostNotFound('002-booking-gateway.yaml', 'booking', 33, 'booking-service')],
  '002-order-service.yaml': [],
  '002-security.yaml': [JWT_WARNING],
  '003-canary.yaml': [
    drHostNotFound('003-canary.yaml', 'my-app-versions', 10, 'my-app-service'),
    'Error [WFT0104] (VirtualService default/my-app-canary 003-canary.yaml:27) Referenced gateway not found: "my-app-gateway"',
    hostNotFound('003-canary.yaml', 'my-app-canary', 31, 'my-app-service'),
    hostNotFound('003-canary.yaml', 'my-app-canary', 35, 'my-app-service'),
  ],
  '003-gateway-blog.yaml': [hostNotFound('003-gateway-blog.yaml', 'my-blog-vs', 30, 'my-blog-service')],
  '003-security.yaml': [],
};

/** The Services the seeds route to, each with one port named http. */
const SERVICES: SourceFile = {
  name: 'services.yaml',
  text: ([['reviews', 9080], ['booking-service', 8080], ['my-app-service', 80], ['my-blog-service', 80], ['my-api-service', 80]] as const)
    .map(([name, port]) => `apiVersion: v1
kind: Service
metadata: {name: ${name}, namespace: default}
spec:
  selector: {app: ${name}}
  ports:
  - {name: http, port: ${port}}
`).join('---\n'),
};

const CONFLICT = 'associated with mesh gateway define the same host reviews.default.svc.cluster.local which can lead to undefined behavior. This can be fixed by merging the conflicting VirtualServices into a single resource.';

describe('analyze on the seed examples', () => {
  it('knows what to expect of every seed file', () => {
    assert.deepEqual(Object.keys(ALONE).sort(), SEED_FILES);
  });

  for (const file of SEED_FILES) {
    it(`reports exactly the expected findings for ${file} alone`, () => {
      assert.deepEqual(run([seed(file)]), ALONE[file]);
    });
  }

  it('finds the seeds clean with their Services, except for what is genuinely wrong', () => {
    assert.deepEqual(run([...SEED_FILES.map(seed), SERVICES]), [
      // Two tutorials each route reviews with their own VirtualService: sidecars would use either.
      `Error [WFT0109] (VirtualService default/reviews-routing 000-reviews-routing.yaml:10) The VirtualServices default/reviews,default/reviews-routing ${CONFLICT}`,
      `Error [WFT0109] (VirtualService default/reviews 001-reviews.yaml:10) The VirtualServices default/reviews,default/reviews-routing ${CONFLICT}`,
      // The tutorial leaves the RequestAuthentication out.
      JWT_WARNING,
      // The canary's host is not one the blog gateway admits.
      'Warning [WFT0132] (VirtualService default/my-app-canary 003-canary.yaml:27) one or more host [my-app.example.com] defined in VirtualService default/my-app-canary not found in Gateway default/my-app-gateway; it serves codewithmsmaxpro.me.',
    ]);
  });

  it('orders findings by file, then line, then code', () => {
    const findings = run([seed('003-canary.yaml'), seed('000-reviews-routing.yaml')]);
    const files = findings.map((f) => /\(\S+ \S+ ([^:]+):/.exec(f)?.[1]);
    assert.deepEqual(files, [...files].sort());
    assert.equal(findings[0], hostNotFound('000-reviews-routing.yaml', 'reviews-routing', 18, 'reviews'));
  });

  it('runs only the analyzers it is given', () => {
    const onlyGateways = builtinAnalyzers().filter((a) => a.name === 'ReferencedGatewayNotFound');
    assert.deepEqual(run([seed('003-canary.yaml')], onlyGateways), [
      'Error [WFT0104] (VirtualService default/my-app-canary 003-canary.yaml:27) Referenced gateway not found: "my-app-gateway"',
    ]);
    assert.deepEqual(run([seed('003-canary.yaml')], []), []);
  });
});

describe('builtinAnalyzers', () => {
  it('gives every analyzer a unique name', () => {
    const analyzers = builtinAnalyzers();
    assert.equal(new Set(analyzers.map((a) => a.name)).size, analyzers.length);
  });

  it('reports only the codes each analyzer declares, at their catalogue level', () => {
    const inputs = [...SEED_FILES.map((f) => [seed(f)]), [...SEED_FILES.map(seed), SERVICES]];
    for (const sources of inputs) {
      const context = createAnalysisContext(parseSources(sources, { kinds: builtinKinds() }).resources);
      for (const analyzer of builtinAnalyzers()) {
        for (const finding of analyzer.analyze(context)) {
          const type = analyzer.messages.find((m) => m.code === finding.code);
          assert.ok(type !== undefined, `${analyzer.name} reported ${finding.code}, which it does not declare`);
          assert.equal(finding.level, type.level);
        }
      }
    }
  });
});
