import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ParsedConfig } from '../../index.ts';
import { assertValid, indent, parseSeed, parseYaml, problems, resourceYaml, seedText } from '../../test-support.ts';
import { selectorMismatch } from './deployment.ts';

/** Parses one apps/v1 Deployment whose spec is `spec`, written without indentation. */
function deployment(spec: string): ParsedConfig {
  return parseYaml(resourceYaml('apps/v1', 'Deployment', spec, { name: 'reviews-v1', namespace: 'bookinfo' }));
}

const SELECTOR = 'selector: {matchLabels: {app: reviews, version: v1}}';
const TEMPLATE = `template:
  metadata: {labels: {app: reviews, version: v1}}
  spec:
    containers: [{name: reviews, image: reviews:1}]`;

describe('Deployment', () => {
  describe('seed 002-order-service.yaml', () => {
    it('reports the removed apps/v1beta1 Deployment once, with the selector it needs, and keeps the Service', () => {
      const result = parseSeed('002-order-service.yaml');
      assert.equal(result.diagnostics.length, 1);
      const d = result.diagnostics[0]!;
      assert.equal(d.level, 'Error');
      assert.equal(d.code, 'WFT0107');
      assert.deepEqual(d.resource, { kind: 'Deployment', namespace: 'default', name: 'order-service' });
      assert.equal(d.path, 'apiVersion');
      assert.equal(
        d.message,
        '"apps/v1beta1" of Deployment was removed in Kubernetes 1.16; use "apps/v1" instead; note that apps/v1 requires spec.selector, '
          + 'which this Deployment does not set (add spec.selector.matchLabels matching spec.template.metadata.labels, e.g. {app: order-service, version: v1})',
      );
      assert.match(d.message, /apps\/v1beta1.*removed/);
      assert.match(d.message, /use "apps\/v1" instead/);
      assert.match(d.message, /requires spec\.selector/);
      assert.deepEqual(result.resources.map((r) => `${r.kind} ${r.namespace}/${r.name}`), ['Service default/order-service']);
    });

    it('accepts the same Deployment once moved to apps/v1 with a selector (cpu: 0.1 and memory: 200 are quantities)', () => {
      const text = seedText('002-order-service.yaml')
        .replace('apiVersion: apps/v1beta1', 'apiVersion: apps/v1')
        .replace('  replicas: 1\n', '  replicas: 1\n  selector:\n    matchLabels: {app: order-service, version: v1}\n');
      const result = parseYaml(text);
      assert.deepEqual(problems(result), []);
      assert.deepEqual(result.resources.map((r) => r.kind), ['Deployment', 'Service']);
    });
  });

  describe('removed apiVersions', () => {
    it('reports extensions/v1beta1 with the missing selector', () => {
      const result = parseYaml(`apiVersion: extensions/v1beta1
kind: Deployment
metadata: {name: d}
spec:
  template:
    metadata: {labels: {app: a}}
    spec: {containers: [{name: a, image: a}]}`);
      assert.deepEqual(problems(result), [
        'apiVersion: "extensions/v1beta1" of Deployment was removed in Kubernetes 1.16; use "apps/v1" instead; note that apps/v1 requires spec.selector, which this Deployment does not set (add spec.selector.matchLabels matching spec.template.metadata.labels, e.g. {app: a})',
      ]);
    });

    it('reports apps/v1beta2 with no hint when nothing else is missing', () => {
      const result = parseYaml(`apiVersion: apps/v1beta2\nkind: Deployment\nmetadata: {name: d}\nspec:\n  ${SELECTOR}\n${indent(TEMPLATE)}\n`);
      assert.deepEqual(problems(result), ['apiVersion: "apps/v1beta2" of Deployment was removed in Kubernetes 1.16; use "apps/v1" instead']);
    });

    it('refuses an apiVersion that was never served', () => {
      assert.deepEqual(problems(parseYaml('apiVersion: v1\nkind: Deployment\nmetadata: {name: d}\nspec: {}\n')), [
        'apiVersion: "v1" is not valid for Deployment: Deployment belongs to the group apps; use apps/v1',
      ]);
    });
  });

  describe('accepted forms', () => {
    it('accepts a bookinfo Deployment with strategy and rollout settings', () => {
      assertValid(deployment(`
replicas: 3
${SELECTOR}
strategy:
  type: RollingUpdate
  rollingUpdate: {maxUnavailable: 0, maxSurge: "50%"}
minReadySeconds: 5
revisionHistoryLimit: 10
progressDeadlineSeconds: 600
paused: false
template:
  metadata:
    labels: {app: reviews, version: v1, extra: x}
    annotations: {sidecar.istio.io/inject: "true", proxy.istio.io/config: "{}"}
  spec:
    serviceAccountName: bookinfo-reviews
    containers:
    - name: reviews
      image: docker.io/istio/examples-bookinfo-reviews-v1:1.20.2
      ports: [{containerPort: 9080}]
`));
    });

    it('accepts matchExpressions that the template labels satisfy', () => {
      assertValid(deployment(`
selector:
  matchExpressions:
  - {key: app, operator: In, values: [reviews, ratings]}
  - {key: version, operator: NotIn, values: [v3]}
  - {key: app, operator: Exists}
  - {key: canary, operator: DoesNotExist}
${TEMPLATE}`));
    });

    it('accepts a Recreate strategy', () => {
      assertValid(deployment(`${SELECTOR}\nstrategy: {type: Recreate}\n${TEMPLATE}`));
    });
  });

  describe('selector', () => {
    it('requires a selector', () => {
      assert.deepEqual(problems(deployment(TEMPLATE)), ['spec.selector: required field is missing']);
    });

    it('refuses an empty selector', () => {
      assert.deepEqual(problems(deployment(`selector: {}\n${TEMPLATE}`)), [
        'spec.selector: must set matchLabels or matchExpressions (an empty selector is not allowed for a Deployment)',
      ]);
    });

    it('requires matchLabels to be a subset of the template labels', () => {
      const result = deployment(`selector: {matchLabels: {app: reviews, version: v2}}\n${TEMPLATE}`);
      assert.deepEqual(problems(result), [
        'spec.template.metadata.labels: spec.selector does not match the template\'s labels, so the Deployment would not own its pods: the label version is "v1", the selector wants "v2"',
      ]);
      assert.equal(result.diagnostics[0]!.origin?.line, 9);
    });

    it('reports a selector label the template lacks', () => {
      assert.deepEqual(problems(deployment(`selector: {matchLabels: {app: reviews, tier: backend}}\n${TEMPLATE}`)), [
        'spec.template.metadata.labels: spec.selector does not match the template\'s labels, so the Deployment would not own its pods: the label tier: backend is missing',
      ]);
    });

    it('reports a template without labels', () => {
      assert.deepEqual(problems(deployment(`${SELECTOR}\ntemplate:\n  spec:\n    containers: [{name: a, image: a}]`)), [
        'spec.template.metadata.labels: spec.selector does not match the template\'s labels, so the Deployment would not own its pods: the label app: reviews is missing',
      ]);
    });

    it('checks matchExpressions operators and values', () => {
      assert.deepEqual(problems(deployment(`
selector:
  matchExpressions:
  - {key: app, operator: In}
  - {key: app, operator: Exists, values: [reviews]}
  - {key: app, operator: Equals, values: [reviews]}
${TEMPLATE}`)), [
        'spec.selector.matchExpressions[0].values: at least one value is required when operator is In',
        'spec.selector.matchExpressions[1].values: must be empty when operator is Exists',
        'spec.selector.matchExpressions[2].operator: must be one of In, NotIn, Exists, DoesNotExist, got string "Equals"',
      ]);
    });

    it('reports matchExpressions that the template labels do not satisfy', () => {
      assert.deepEqual(problems(deployment(`selector: {matchExpressions: [{key: version, operator: NotIn, values: [v1]}]}\n${TEMPLATE}`)), [
        'spec.template.metadata.labels: spec.selector does not match the template\'s labels, so the Deployment would not own its pods: the label version must not be v1',
      ]);
    });

    it('rejects an unknown selector field with a suggestion', () => {
      assert.deepEqual(problems(deployment(`selector: {matchLabel: {app: reviews}}\n${TEMPLATE}`)), [
        'spec.selector.matchLabel: unknown field "matchLabel" (did you mean "matchLabels"?)',
      ]);
    });
  });

  describe('template', () => {
    it('requires a template', () => {
      assert.deepEqual(problems(deployment(SELECTOR)), ['spec.template: required field is missing']);
    });

    it('validates the pod spec inside the template', () => {
      assert.deepEqual(problems(deployment(`${SELECTOR}\ntemplate:\n  metadata: {labels: {app: reviews, version: v1}}\n  spec:\n    containers: [{name: reviews, image: r, imagePullPolice: Always}]`)), [
        'spec.template.spec.containers[0].imagePullPolice: unknown field "imagePullPolice" (did you mean "imagePullPolicy"?)',
      ]);
    });

    it('requires restartPolicy Always and refuses activeDeadlineSeconds', () => {
      const result = deployment(`${SELECTOR}
template:
  metadata: {labels: {app: reviews, version: v1}}
  spec:
    restartPolicy: OnFailure
    activeDeadlineSeconds: 60
    containers: [{name: reviews, image: r}]`);
      assert.deepEqual(problems(result), [
        'spec.template.spec.restartPolicy: must be Always in a Deployment, got OnFailure',
        'spec.template.spec.activeDeadlineSeconds: may not be set in a Deployment (its pods run until replaced)',
      ]);
    });

    it('rejects an unknown template metadata field with a suggestion', () => {
      assert.deepEqual(problems(deployment(`${SELECTOR}\ntemplate:\n  metadata: {labels: {app: reviews, version: v1}, annotation: {}}\n  spec:\n    containers: [{name: a, image: a}]`)), [
        'spec.template.metadata.annotation: unknown field "annotation" (did you mean "annotations"?)',
      ]);
    });
  });

  describe('rollout settings', () => {
    it('rejects negative replicas and a replica count written as a string', () => {
      assert.deepEqual(problems(deployment(`replicas: -1\n${SELECTOR}\n${TEMPLATE}`)), ['spec.replicas: must be at least 0, got integer -1']);
      assert.deepEqual(problems(deployment(`replicas: "3"\n${SELECTOR}\n${TEMPLATE}`)), ['spec.replicas: expected a number, got string "3"']);
    });

    it('refuses rollingUpdate with a Recreate strategy', () => {
      assert.deepEqual(problems(deployment(`${SELECTOR}\nstrategy: {type: Recreate, rollingUpdate: {maxSurge: 1}}\n${TEMPLATE}`)), [
        'spec.strategy.rollingUpdate: may not be set when type is Recreate',
      ]);
    });

    it('rejects maxUnavailable and maxSurge both zero', () => {
      assert.deepEqual(problems(deployment(`${SELECTOR}\nstrategy: {rollingUpdate: {maxUnavailable: "0%", maxSurge: 0}}\n${TEMPLATE}`)), [
        'spec.strategy.rollingUpdate.maxUnavailable: may not be 0 when maxSurge is 0 (the rollout could never make progress)',
      ]);
      assertValid(deployment(`${SELECTOR}\nstrategy: {rollingUpdate: {maxUnavailable: 0}}\n${TEMPLATE}`));
    });

    it('rejects malformed counts and more than 100% unavailable', () => {
      assert.deepEqual(problems(deployment(`${SELECTOR}\nstrategy: {rollingUpdate: {maxUnavailable: "150%", maxSurge: "25 %"}}\n${TEMPLATE}`)), [
        'spec.strategy.rollingUpdate.maxSurge: must be a whole number of pods (1) or a percentage ("25%"), got "25 %"',
        'spec.strategy.rollingUpdate.maxUnavailable: must not be more than 100%, got "150%"',
      ]);
    });

    it('rejects an unknown strategy type with a suggestion', () => {
      assert.deepEqual(problems(deployment(`${SELECTOR}\nstrategy: {type: Rolling}\n${TEMPLATE}`)), [
        'spec.strategy.type: must be one of RollingUpdate, Recreate, got string "Rolling"',
      ]);
    });

    it('requires progressDeadlineSeconds to exceed minReadySeconds', () => {
      assert.deepEqual(problems(deployment(`${SELECTOR}\nminReadySeconds: 30\nprogressDeadlineSeconds: 30\n${TEMPLATE}`)), [
        'spec.progressDeadlineSeconds: must be greater than minReadySeconds (30), got 30',
      ]);
    });
  });
});

describe('selectorMismatch', () => {
  it('explains the first label that does not match', () => {
    assert.equal(selectorMismatch({ matchLabels: { app: 'a' } }, { app: 'a', version: 'v1' }), undefined);
    assert.equal(selectorMismatch({ matchLabels: { app: 'a' } }, { app: 'b' }), 'the label app is "b", the selector wants "a"');
    assert.equal(selectorMismatch({ matchExpressions: [{ key: 'tier', operator: 'In', values: ['web', 'api'] }] }, {}), 'the label tier must be one of web, api');
    assert.equal(selectorMismatch({ matchExpressions: [{ key: 'canary', operator: 'DoesNotExist' }] }, { canary: 'true' }), 'the label canary must not be set');
  });
});
