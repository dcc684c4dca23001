/** Helpers shared by the analysis tests; only tests import this module. */
import assert from 'node:assert/strict';
import { formatDiagnostic, type AnyResource } from '../index.ts';
import { indent, parseYaml } from '../test-support.ts';
import { analyze, type Analyzer } from './index.ts';

/** The resources of YAML `text`, which must parse without a diagnostic. */
export function validResources(text: string): AnyResource[] {
  const parsed = parseYaml(text);
  assert.deepEqual(parsed.diagnostics.map(formatDiagnostic), []);
  return parsed.resources;
}

/** What `analyzer` finds in YAML `text` (which must parse without a diagnostic), one formatted line a finding. */
export function analyzeYaml(text: string, analyzer: Analyzer): string[] {
  return analyze(validResources(text), { analyzers: [analyzer] }).map(formatDiagnostic);
}

/** The Gateway edge/public for ingress gateway pods, with one HTTP server for `hosts` (a YAML flow list's items). */
export function publicGatewayYaml(hosts: string): string {
  return `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: public, namespace: edge}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: [${hosts}]
`;
}

/** The VirtualService shop in `namespace` for `hosts` and bound to `gateways` (YAML flow lists' items), with the HTTP routes `http` (YAML written from column 0). */
export function shopVirtualServiceYaml(namespace: string, hosts: string, gateways: string, http: string): string {
  return `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: shop, namespace: ${namespace}}
spec:
  hosts: [${hosts}]
  gateways: [${gateways}]
  http:
${indent(http)}
`;
}
