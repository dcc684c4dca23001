import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';
import { ofKind } from '../../src/config/index.ts';
import { analyzeFiles, missingScripts, samplePath } from '../shared/test-support.ts';

const seed = (file: string): string => samplePath(`../../shared/seed-examples/${file}`);

describe('order booking YAML', () => {
  it('analyzes clean, with its gateway', () => {
    assert.deepEqual(analyzeFiles(['booking']).findings, []);
  });

  it('works with the seed tutorial\'s gateway and security applied on top', () => {
    assert.deepEqual(analyzeFiles(['booking/booking.yaml', seed('002-booking-gateway.yaml'), seed('002-security.yaml')]).findings, [
      'Warning WFT0150 The AuthorizationPolicy uses requestPrincipals but no RequestAuthentication applies to its workloads (app=booking-service), so requests are never authenticated by JWT and carry no request principal or claims. Add a RequestAuthentication that selects these workloads, or one in istio-system for the whole mesh.',
    ]);
  });

  it('declares order-service exactly as the seed tutorial prints it, with the labels of its Deployment', () => {
    const ours = ofKind(analyzeFiles(['booking/booking.yaml']).resources, 'Service').find((s) => s.name === 'order-service');
    const theirs = ofKind(analyzeFiles([seed('002-order-service.yaml')]).resources, 'Service').find((s) => s.name === 'order-service');
    assert.deepEqual(ours?.object.spec, theirs?.object.spec);
    const workload = ofKind(analyzeFiles(['booking/booking.yaml']).resources, 'LocalWorkload').find((w) => w.name === 'order-service-v1');
    // The seed's Deployment is refused (apps/v1beta1 was removed), so its labels are read as plain YAML.
    const deployment = parseAllDocuments(readFileSync(seed('002-order-service.yaml'), 'utf8'))[0]!.toJS() as { spec: { template: { metadata: { labels: unknown } } } };
    assert.deepEqual(workload?.object.spec.labels, deployment.spec.template.metadata.labels);
  });

  it('serves booking-service on the port the seed gateway routes to', () => {
    const { resources } = analyzeFiles(['booking/booking.yaml']);
    const booking = ofKind(resources, 'Service').find((s) => s.name === 'booking-service');
    assert.equal(booking?.object.spec.ports?.[0]?.port, 8080);
    assert.deepEqual(ofKind(resources, 'LocalWorkload').map((w) => w.name), ['booking-service-v1', 'order-service-v1', 'inventory-service-v1', 'shipping-service-v1']);
    assert.deepEqual(missingScripts(resources), []);
  });
});
