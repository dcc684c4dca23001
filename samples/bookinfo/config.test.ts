import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { ofKind } from '../../src/config/index.ts';
import { analyzeFiles, missingScripts, samplePath } from '../shared/test-support.ts';

const BASE = ['bookinfo/bookinfo.yaml', 'bookinfo/networking/bookinfo-gateway.yaml', 'bookinfo/networking/destination-rule-all.yaml'];
/** Istio's routing files are alternatives: each replaces the reviews or ratings VirtualService of the one before. */
const ALTERNATIVES = readdirSync(samplePath('bookinfo/networking')).filter((f) => f.startsWith('virtual-service-')).sort();

describe('bookinfo YAML', () => {
  it('has the routing files of Istio\'s tasks', () => {
    assert.deepEqual(ALTERNATIVES, [
      'virtual-service-all-v1.yaml',
      'virtual-service-ratings-test-abort.yaml',
      'virtual-service-ratings-test-delay.yaml',
      'virtual-service-reviews-50-v3.yaml',
      'virtual-service-reviews-test-v2.yaml',
      'virtual-service-reviews-v3.yaml',
    ]);
  });

  it('analyzes clean: the app, the gateway and the destination rules with each routing file', () => {
    assert.deepEqual(analyzeFiles(BASE).findings, []);
    for (const file of ALTERNATIVES) assert.deepEqual(analyzeFiles([...BASE, `bookinfo/networking/${file}`]).findings, [], file);
  });

  it('analyzes clean with the seed tutorials\' reviews routing and security', () => {
    for (const seed of ['000-reviews-routing.yaml', '001-reviews.yaml', '001-security.yaml']) {
      assert.deepEqual(analyzeFiles(['bookinfo/bookinfo.yaml', samplePath(`../../shared/seed-examples/${seed}`)]).findings, [], seed);
    }
  });

  it('runs six workloads with Istio\'s labels and service accounts, each from a script beside the YAML', () => {
    const { resources } = analyzeFiles(['bookinfo/bookinfo.yaml']);
    const workloads = ofKind(resources, 'LocalWorkload');
    assert.deepEqual(workloads.map((w) => `${w.name} ${w.object.spec.labels['app']}/${w.object.spec.labels['version']} ${w.object.spec.serviceAccount}`), [
      'details-v1 details/v1 bookinfo-details',
      'ratings-v1 ratings/v1 bookinfo-ratings',
      'reviews-v1 reviews/v1 bookinfo-reviews',
      'reviews-v2 reviews/v2 bookinfo-reviews',
      'reviews-v3 reviews/v3 bookinfo-reviews',
      'productpage-v1 productpage/v1 bookinfo-productpage',
    ]);
    assert.deepEqual(missingScripts(resources), []);
    assert.deepEqual(ofKind(resources, 'Service').map((s) => `${s.name}:${s.object.spec.ports?.[0]?.port}`), ['details:9080', 'ratings:9080', 'reviews:9080', 'productpage:9080']);
  });
});
