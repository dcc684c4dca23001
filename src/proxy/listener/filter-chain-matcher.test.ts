import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { FilterChainMatch } from '../../xds/envoy/index.ts';
import { FilterChainMatcher, filterChainMatchProblems, type ConnectionFacts } from './filter-chain-matcher.ts';

const CONNECTION: ConnectionFacts = {
  destinationAddress: '10.0.0.5',
  destinationPort: 443,
  sourceAddress: '10.1.0.7',
  sourcePort: 40000,
  transportProtocol: 'raw_buffer',
  applicationProtocols: [],
};

function select(chains: Record<string, FilterChainMatch | undefined>, facts: Partial<ConnectionFacts>, fallback?: string): string | undefined {
  const matcher = new FilterChainMatcher(Object.entries(chains).map(([value, match]) => ({ match, value })), fallback);
  return matcher.select({ ...CONNECTION, ...facts });
}

describe('FilterChainMatcher', () => {
  it('prefers the chain for the destination port over one for any port, and falls back to the latter', () => {
    const chains = { port443: { destinationPort: 443 }, port80: { destinationPort: 80 }, any: {} };
    assert.equal(select(chains, {}), 'port443');
    assert.equal(select(chains, { destinationPort: 8080 }), 'any');
  });

  it('takes the longest destination prefix, then chains without prefixes', () => {
    const chains = {
      wide: { prefixRanges: [{ addressPrefix: '10.0.0.0', prefixLen: 8 }] },
      narrow: { prefixRanges: [{ addressPrefix: '10.0.0.0', prefixLen: 24 }] },
      v6: { prefixRanges: [{ addressPrefix: 'fd00::', prefixLen: 8 }] },
      any: undefined,
    };
    assert.equal(select(chains, {}), 'narrow');
    assert.equal(select(chains, { destinationAddress: '10.9.9.9' }), 'wide');
    assert.equal(select(chains, { destinationAddress: '192.168.1.1' }), 'any');
    assert.equal(select(chains, { destinationAddress: 'fd00::1' }), 'v6');
  });

  it('matches server names exactly first, then the longest wildcard, then chains without names', () => {
    const chains = {
      exact: { serverNames: ['api.example.com'] },
      short: { serverNames: ['*.com'] },
      long: { serverNames: ['*.example.com'] },
      none: {},
    };
    assert.equal(select(chains, { serverName: 'api.example.com' }), 'exact');
    assert.equal(select(chains, { serverName: 'API.Example.com' }), 'exact', 'names compare without case');
    assert.equal(select(chains, { serverName: 'www.example.com' }), 'long');
    assert.equal(select(chains, { serverName: 'a.b.example.com' }), 'long', 'a wildcard covers several labels');
    assert.equal(select(chains, { serverName: 'example.org' }), 'none');
    assert.equal(select(chains, {}), 'none', 'no SNI matches only chains without server names');
  });

  it('applies the criteria in Envoy\'s order without backtracking: a port match that fails later goes to the default chain', () => {
    const chains = { portOnlyTls: { destinationPort: 443, transportProtocol: 'tls' }, anyPort: {} };
    assert.equal(select(chains, { transportProtocol: 'tls' }), 'portOnlyTls');
    assert.equal(select(chains, { transportProtocol: 'raw_buffer' }, 'default'), 'default');
    assert.equal(select(chains, { transportProtocol: 'raw_buffer' }), undefined);
  });

  it('orders destination IP before server name: a matching prefix wins over a matching SNI', () => {
    const chains = { byIp: { prefixRanges: [{ addressPrefix: '10.0.0.5', prefixLen: 32 }] }, bySni: { serverNames: ['a.example.com'] } };
    assert.equal(select(chains, { serverName: 'a.example.com' }), 'byIp');
  });

  it('matches the transport protocol, then any application protocol the connection offers', () => {
    const chains = {
      h2: { transportProtocol: 'tls', applicationProtocols: ['h2'] },
      tls: { transportProtocol: 'tls' },
      http: { applicationProtocols: ['http/1.0', 'http/1.1', 'h2c'] },
      tcp: {},
    };
    assert.equal(select(chains, { transportProtocol: 'tls', applicationProtocols: ['h2', 'http/1.1'] }), 'h2');
    assert.equal(select(chains, { transportProtocol: 'tls', applicationProtocols: ['http/1.1'] }), 'tls');
    assert.equal(select(chains, { applicationProtocols: ['h2c'] }), 'http');
    assert.equal(select(chains, {}), 'tcp');
  });

  it('matches the source type, source prefix and source port last', () => {
    const chains = {
      local: { sourceType: 'SAME_IP_OR_LOOPBACK' as const },
      subnet: { sourcePrefixRanges: [{ addressPrefix: '10.1.0.0', prefixLen: 16 }] },
      port: { sourcePrefixRanges: [{ addressPrefix: '10.1.0.0', prefixLen: 16 }], sourcePorts: [40000] },
    };
    assert.equal(select(chains, { sourceAddress: '127.0.0.1' }), 'local');
    assert.equal(select(chains, {}), 'port');
    assert.equal(select(chains, { sourcePort: 1234 }), 'subnet');
  });
});

describe('filterChainMatchProblems', () => {
  it('names bad addresses, prefix lengths, ports and server names by field', () => {
    assert.deepEqual(filterChainMatchProblems({
      destinationPort: 70000,
      prefixRanges: [{ addressPrefix: 'ten', prefixLen: 8 }, { addressPrefix: '10.0.0.0', prefixLen: 33 }],
      serverNames: ['*.ok.com', 'a.*.com'],
      sourcePorts: [0],
    }), [
      'destinationPort: 70000 is not a port (1-65535)',
      'prefixRanges[0].addressPrefix: "ten" is not an IP address',
      'prefixRanges[1].prefixLen: 33 is not 0-32',
      'serverNames[1]: "a.*.com" is not a server name (a hostname, or "*." and a domain)',
      'sourcePorts[0]: 0 is not a port (1-65535)',
    ]);
  });
});
