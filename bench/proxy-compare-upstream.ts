/**
 * The upstream of the proxy comparison: `bench/loadgen/upstream.c`, one epoll loop with an
 * HTTP/1.1 listener (200 with a body of the size the path names: `/1024`, `/16384`), an h2c
 * listener (prior knowledge; 200 with `H2_BODY` bytes) and a TCP echo. It is written in C because
 * it shares its core with the load generator: a Node upstream would make that core, not the proxy,
 * the limit of the max-throughput runs.
 */
import { compileNative } from './proxy-compare-loadgen.ts';
import { Service } from './proxy-compare-process.ts';

export const H2_BODY = 1024;

export interface Upstream {
  readonly service: Service;
  readonly h1Port: number;
  readonly h2Port: number;
  readonly tcpPort: number;
}

export async function startUpstream(scratch: string, cpu: number, timeLimitS: number): Promise<Upstream> {
  const binary = compileNative('upstream', scratch);
  const service = new Service('upstream', binary, ['--h2-body', String(H2_BODY), '--time-limit', String(timeLimitS)], { cpu, timeLimitS: timeLimitS + 5 });
  const ports = await service.waitFor('its ports', (stdout) => {
    const line = stdout.split('\n').find((l) => l.startsWith('{'));
    return line === undefined ? undefined : (JSON.parse(line) as { h1: number; h2: number; tcp: number });
  }, 10_000);
  return { service, h1Port: ports.h1, h2Port: ports.h2, tcpPort: ports.tcp };
}
