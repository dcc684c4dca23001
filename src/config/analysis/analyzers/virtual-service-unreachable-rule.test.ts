import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { analyzeYaml } from '../test-support.ts';
import { virtualServiceUnreachableRule } from './virtual-service-unreachable-rule.ts';

function run(rules: string, protocol = 'http'): string[] {
  const text = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  ${protocol}:
${rules}`;
  return analyzeYaml(text, virtualServiceUnreachableRule);
}

const to = (subset: string): string => `    route: [{destination: {host: reviews, subset: ${subset}}}]\n`;

describe('VirtualServiceUnreachableRule', () => {
  it('accepts specific rules followed by one catch-all rule', () => {
    assert.deepEqual(run(`  - match: [{headers: {end-user: {exact: jason}}}]\n${to('v2')}  - match: [{uri: {prefix: /api}}]\n${to('v3')}  -${to('v1').slice(3)}`), []);
  });

  it('reports a rule after a rule without match', () => {
    assert.deepEqual(run(`  -${to('v1').slice(3)}  - match: [{uri: {prefix: /api}}]\n${to('v2')}`), [
      'Warning [WFT0130] (VirtualService default/reviews test.yaml:8) VirtualService rule #1 not used (route without matches defined before).',
    ]);
  });

  it('reports a second rule without match as such, and names named rules', () => {
    assert.deepEqual(run(`  -${to('v1').slice(3)}  - name: fallback\n${to('v2')}`), [
      'Warning [WFT0130] (VirtualService default/reviews test.yaml:8) VirtualService rule "fallback" not used (only the last rule can have no matches).',
    ]);
  });

  it('reports a rule after one that matches every path with uri prefix "/"', () => {
    assert.deepEqual(run(`  - match: [{uri: {prefix: /}}]\n${to('v1')}  - match: [{uri: {prefix: /api}}]\n${to('v2')}`), [
      'Warning [WFT0130] (VirtualService default/reviews test.yaml:9) VirtualService rule #1 not used (rule #0 before it matches every request with uri prefix "/").',
    ]);
  });

  it('does not take uri prefix "/" with another condition as a catch-all', () => {
    assert.deepEqual(run(`  - match: [{uri: {prefix: /}, method: {exact: GET}}]\n${to('v1')}  -${to('v2').slice(3)}`), []);
  });

  it('reports a rule all of whose matches repeat earlier ones, whatever their names and key order', () => {
    assert.deepEqual(run(`  - match: [{name: a, uri: {prefix: /api}, method: {exact: GET}}]\n${to('v1')}  - match: [{method: {exact: GET}, uri: {prefix: /api}, name: b}]\n${to('v2')}`), [
      'Warning [WFT0130] (VirtualService default/reviews test.yaml:9) VirtualService rule #1 not used (all matches used by prior rules).',
    ]);
  });

  it('reports a single repeated match as Info', () => {
    assert.deepEqual(run(`  - match: [{uri: {prefix: /api}}]\n${to('v1')}  - match: [{uri: {prefix: /api}}, {uri: {prefix: /v2}}]\n${to('v2')}`), [
      'Info [WFT0131] (VirtualService default/reviews test.yaml:9) VirtualService rule #1 match #0 is not used (duplicate/overlapping match in rule #0).',
    ]);
  });

  it('checks TCP rules the same way', () => {
    assert.deepEqual(run(`  - route: [{destination: {host: reviews}}]\n  - match: [{port: 9080}]\n    route: [{destination: {host: reviews}}]\n`, 'tcp'), [
      'Warning [WFT0130] (VirtualService default/reviews test.yaml:8) VirtualService rule tcp #1 not used (route without matches defined before).',
    ]);
  });
});
