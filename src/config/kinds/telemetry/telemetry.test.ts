import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ParsedConfig } from '../../index.ts';
import { assertValid, parseYaml, problems, resourceYaml } from '../../test-support.ts';
import { celExpressionProblem } from './telemetry.ts';

/** Parses one Telemetry whose spec is `spec`, written without indentation. */
function telemetry(spec: string, apiVersion = 'telemetry.istio.io/v1'): ParsedConfig {
  return parseYaml(resourceYaml(apiVersion, 'Telemetry', spec, { name: 'mesh-default', namespace: 'istio-system' }));
}

describe('Telemetry', () => {
  it('accepts tracing, metrics and access logging using every field', () => {
    const result = telemetry(`
selector:
  matchLabels:
    app: reviews
tracing:
- match:
    mode: CLIENT_AND_SERVER
  providers:
  - name: zipkin
  randomSamplingPercentage: 54.54
  disableSpanReporting: false
  useRequestIdForTraceSampling: true
  enableIstioTags: true
  disableContextPropagation: false
  customTags:
    env:
      environment: {name: NAME, defaultValue: default}
    header:
      header: {name: x-name, defaultValue: default name}
    literal:
      literal: {value: default literal}
    sni:
      formatter: {value: "%REQUESTED_SERVER_NAME%"}
metrics:
- providers:
  - name: prometheus
  reportingInterval: 5s
  overrides:
  - match:
      metric: REQUEST_COUNT
      mode: CLIENT
    disabled: false
    tagOverrides:
      request_host:
        value: request.host
      request_protocol:
        operation: REMOVE
      x:
        operation: UPSERT
        value: "string(destination.port)"
  - match:
      customMetric: my_metric
    disabled: true
  - match:
      metric: GRPC_RESPONSE_MESSAGES
accessLogging:
- match:
    mode: SERVER
  providers:
  - name: envoy
  disabled: false
  filter:
    expression: "response.code >= 400 || (request.headers['x-debug'] == \\"1\\")"
`);
    assertValid(result);
  });

  it('accepts the v1alpha1 API and null for the wrapper booleans', () => {
    assert.deepEqual(problems(telemetry('tracing:\n- disableSpanReporting: null\n  randomSamplingPercentage: null', 'telemetry.istio.io/v1alpha1')), []);
  });

  it('accepts targetRef to a gateway', () => {
    assert.deepEqual(problems(telemetry('targetRef: {group: gateway.networking.k8s.io, kind: Gateway, name: gw}\naccessLogging:\n- providers: [{name: envoy}]')), []);
  });

  it('rejects a sampling percentage outside 0..100', () => {
    const result = telemetry('tracing:\n- randomSamplingPercentage: 150\n- randomSamplingPercentage: -1');
    assert.deepEqual(problems(result), [
      'spec.tracing[0].randomSamplingPercentage: must be at most 100, got integer 150',
      'spec.tracing[1].randomSamplingPercentage: must be at least 0, got integer -1',
    ]);
    assert.equal(result.diagnostics[0]!.origin?.line, 8);
  });

  it('rejects a custom tag with none or several of literal, environment, header, formatter', () => {
    assert.deepEqual(problems(telemetry('tracing:\n- customTags:\n    a: {}\n    b: {literal: {value: x}, header: {name: y}}')), [
      'spec.tracing[0].customTags.a: a custom tag must set one of literal, environment, header or formatter',
      'spec.tracing[0].customTags.b.header: only one of literal, environment, header or formatter may be set, got literal and header',
    ]);
  });

  it('rejects empty custom tag values and a misspelt tag type', () => {
    assert.deepEqual(problems(telemetry('tracing:\n- customTags:\n    a: {literal: {value: ""}}\n    b: {environment: {defaultValue: x}}\n    c: {headers: {name: x}}')), [
      'spec.tracing[0].customTags.a.literal.value: must not be empty',
      'spec.tracing[0].customTags.b.environment.name: required field is missing',
      'spec.tracing[0].customTags.c.headers: unknown field "headers" (did you mean "header"?)',
    ]);
  });

  it('rejects an unknown metric and mode, suggesting the closest', () => {
    assert.deepEqual(problems(telemetry('metrics:\n- overrides:\n  - match: {metric: REQUEST_CONT, mode: SERVR}')), [
      'spec.metrics[0].overrides[0].match.metric: must be one of ALL_METRICS, REQUEST_COUNT, REQUEST_DURATION, REQUEST_SIZE, RESPONSE_SIZE, TCP_OPENED_CONNECTIONS, TCP_CLOSED_CONNECTIONS, TCP_SENT_BYTES, TCP_RECEIVED_BYTES, GRPC_REQUEST_MESSAGES, GRPC_RESPONSE_MESSAGES, got string "REQUEST_CONT" (did you mean "REQUEST_COUNT"?)',
      'spec.metrics[0].overrides[0].match.mode: must be one of CLIENT_AND_SERVER, CLIENT, SERVER, got string "SERVR" (did you mean "SERVER"?)',
    ]);
  });

  it('rejects metric together with customMetric, and an empty customMetric', () => {
    assert.deepEqual(problems(telemetry('metrics:\n- overrides:\n  - match: {metric: REQUEST_COUNT, customMetric: mine}\n  - match: {customMetric: ""}')), [
      'spec.metrics[0].overrides[0].match.customMetric: only one of metric or customMetric may be set',
      'spec.metrics[0].overrides[1].match.customMetric: must not be empty',
    ]);
  });

  it('requires a value for UPSERT and refuses one for REMOVE', () => {
    assert.deepEqual(problems(telemetry('metrics:\n- overrides:\n  - tagOverrides:\n      a: {operation: UPSERT}\n      b: {}\n      c: {operation: REMOVE, value: oops}')), [
      'spec.metrics[0].overrides[0].tagOverrides.a.value: value must be set when operation is UPSERT',
      'spec.metrics[0].overrides[0].tagOverrides.b.value: value must be set when operation is UPSERT (the default)',
      'spec.metrics[0].overrides[0].tagOverrides.c.value: value must not be set when operation is REMOVE',
    ]);
  });

  it('rejects an empty provider name and a reporting interval below 1ms', () => {
    assert.deepEqual(problems(telemetry('metrics:\n- providers: [{name: ""}]\n  reportingInterval: 0s\naccessLogging:\n- providers: [{}]')), [
      'spec.metrics[0].providers[0].name: must not be empty',
      'spec.metrics[0].reportingInterval: duration must be at least 1ms, got "0s"',
      'spec.accessLogging[0].providers[0].name: required field is missing',
    ]);
  });

  it('rejects a filter expression that cannot be CEL', () => {
    assert.deepEqual(problems(telemetry('accessLogging:\n- filter: {expression: "response.code >= (400"}\n- filter: {expression: ""}\n- filter: {}')), [
      'spec.accessLogging[0].filter.expression: "response.code >= (400" is not a CEL expression: \')\' is missing',
      'spec.accessLogging[1].filter.expression: the filter expression must not be empty',
      'spec.accessLogging[2].filter.expression: required field is missing',
    ]);
  });

  it('rejects a misspelt field with a suggestion and a wrong type', () => {
    assert.deepEqual(problems(telemetry('accesLogging:\n- disabled: true\ntracing:\n- disableSpanReporting: "no"')), [
      'spec.tracing[0].disableSpanReporting: expected true or false, got string "no"',
      'spec.accesLogging: unknown field "accesLogging" (did you mean "accessLogging"?)',
    ]);
  });

  it('rejects selector together with targetRef', () => {
    assert.deepEqual(problems(telemetry('selector: {matchLabels: {a: b}}\ntargetRef: {kind: Service, name: s}')), [
      'spec.targetRef: only one of selector, targetRef or targetRefs may be set, got selector and targetRef',
    ]);
  });

  it('checks the shape of CEL expressions', () => {
    for (const ok of ['true', 'response.code >= 400', '!has(request.useragent) || !(request.useragent.startsWith("Amazon-Route53"))', "a['b)'] == 'c\\'d'"]) {
      assert.equal(celExpressionProblem(ok), undefined, ok);
    }
    for (const bad of [' ', 'a)', '(a]', '"open']) assert.notEqual(celExpressionProblem(bad), undefined, bad);
  });
});
