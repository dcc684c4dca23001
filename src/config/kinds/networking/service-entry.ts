import * as z from 'zod';
import { addIssue, ALWAYS, cidr, cidrProblem, crossField, isIP, portNumber } from '../../schema/common.ts';
import { defineKind, istioObject, ISTIO_NETWORKING_GROUP, ISTIO_NETWORKING_VERSIONS } from '../kind-definition.ts';
import { exportTo } from './shared.ts';
import { isHTTPProtocol, isTLSProtocol, portProtocol, protocolOf, WorkloadSelector } from './sidecar.ts';
import { domainNameProblem, portName, UNIX_ADDRESS_PREFIX, WorkloadEntrySpec } from './workload-entry.ts';

export const ServicePort = z.strictObject({
  number: portNumber,
  protocol: portProtocol.optional(),
  name: portName,
  targetPort: portNumber.optional(),
});
export type ServicePort = z.infer<typeof ServicePort>;

export const Location = z.enum(['MESH_EXTERNAL', 'MESH_INTERNAL']);
export type Location = z.infer<typeof Location>;

export const Resolution = z.enum(['NONE', 'STATIC', 'DNS', 'DNS_ROUND_ROBIN', 'DYNAMIC_DNS']);
export type Resolution = z.infer<typeof Resolution>;

/** A ServiceEntry host: a DNS name, possibly with a wildcard first label, but never `*` alone. */
const serviceEntryHost = z.string().check((ctx) => {
  const problem = ctx.value === '*'
    ? 'the host "*" would take every host in the mesh; name the hosts, e.g. "*.example.com"'
    : domainNameProblem(ctx.value, { wildcard: true });
  if (problem !== undefined) ctx.issues.push({ code: 'custom', message: problem, input: ctx.value });
});

/** The protocols a dynamic forward proxy can take the destination from (Host header or SNI). */
const DYNAMIC_DNS_PROTOCOLS = ['HTTP', 'HTTP2', 'GRPC', 'TLS'];

export const ServiceEntrySpec = z
  .strictObject({
    hosts: z.array(serviceEntryHost).min(1).max(256),
    addresses: z.array(cidr).max(256).optional(),
    ports: z.array(ServicePort).max(256).optional(),
    location: Location.optional(),
    resolution: Resolution.optional(),
    endpoints: z.array(WorkloadEntrySpec).max(4096).optional(),
    workloadSelector: WorkloadSelector.optional(),
    exportTo: exportTo.optional(),
    subjectAltNames: z.array(z.string()).optional(),
  })
  .superRefine(crossField((se, ctx) => {
    const resolution = se.resolution ?? 'NONE';
    const hosts = se.hosts;
    const addresses = se.addresses ?? [];
    const ports = se.ports ?? [];
    // An endpoint that is not a mapping already has its own error; the rules below skip it.
    const endpoints = (se.endpoints ?? []).flatMap((endpoint, i) => (typeof endpoint === 'object' && endpoint !== null ? [{ endpoint, i }] : []));

    if (se.endpoints !== undefined && se.workloadSelector !== undefined) {
      addIssue(ctx, ['workloadSelector'], 'only one of endpoints or workloadSelector may be set');
    }
    addresses.forEach((address, i) => {
      if (address.includes('/') && cidrProblem(address) === undefined && resolution !== 'NONE' && resolution !== 'STATIC') {
        addIssue(ctx, ['addresses', i], `the CIDR block "${address}" is allowed only with resolution NONE or STATIC (resolution is ${resolution})`);
      }
    });

    const portNames = new Map<string, number>();
    const portNumbers = new Map<number, number>();
    ports.forEach((port, i) => {
      const byName = portNames.get(port.name);
      if (byName !== undefined) addIssue(ctx, ['ports', i, 'name'], `port name "${port.name}" is already used by ports[${byName}]; port names must be unique`);
      else if (typeof port.name === 'string') portNames.set(port.name, i);
      const byNumber = portNumbers.get(port.number);
      if (byNumber !== undefined) addIssue(ctx, ['ports', i, 'number'], `port ${port.number} is already declared by ports[${byNumber}]; port numbers must be unique`);
      else if (typeof port.number === 'number') portNumbers.set(port.number, i);
    });
    endpoints.forEach(({ endpoint, i }) => {
      for (const name of Object.keys(endpoint.ports ?? {})) {
        if (!portNames.has(name)) {
          const declared = portNames.size > 0 ? `: ${[...portNames.keys()].join(', ')}` : '; it declares none';
          addIssue(ctx, ['endpoints', i, 'ports', name], `"${name}" is not the name of one of the ServiceEntry's ports${declared}`);
        }
      }
    });

    switch (resolution) {
      case 'NONE':
        if (endpoints.length > 0) {
          addIssue(ctx, ['endpoints'], 'endpoints cannot be set with resolution NONE, which sends traffic to the address the client asked for; use STATIC or DNS');
        }
        break;
      case 'STATIC':
        endpoints.forEach(({ endpoint, i }) => {
          const address = endpoint.address ?? '';
          if (address.startsWith(UNIX_ADDRESS_PREFIX)) {
            if (ports.length !== 1) addIssue(ctx, ['endpoints', i, 'address'], `a unix:// endpoint needs the ServiceEntry to declare exactly one port, got ${ports.length}`);
          } else if (address !== '' && !isIP(address)) {
            addIssue(ctx, ['endpoints', i, 'address'], `with resolution STATIC an endpoint address must be an IP address or a unix:// socket path, got "${address}" (use resolution DNS for host names)`);
          }
        });
        break;
      case 'DNS':
      case 'DNS_ROUND_ROBIN':
        if (endpoints.length === 0) {
          hosts.forEach((host, i) => {
            if (host.includes('*') && host !== '*') {
              addIssue(ctx, ['hosts', i], `host "${host}": with resolution ${resolution} and no endpoints the proxy resolves the hosts themselves, so they cannot be wildcards`);
            }
          });
        }
        if (resolution === 'DNS_ROUND_ROBIN' && endpoints.length > 1) {
          addIssue(ctx, ['endpoints'], `resolution DNS_ROUND_ROBIN allows at most one endpoint, got ${endpoints.length}`);
        }
        endpoints.forEach(({ endpoint, i }) => {
          const address = endpoint.address ?? '';
          if (address === '') addIssue(ctx, ['endpoints', i, 'address'], `with resolution ${resolution} every endpoint needs an address (an IP address or a DNS name)`);
          else if (address.startsWith(UNIX_ADDRESS_PREFIX)) addIssue(ctx, ['endpoints', i, 'address'], `with resolution ${resolution} an endpoint cannot be a unix:// socket (use resolution STATIC)`);
        });
        break;
      case 'DYNAMIC_DNS':
        hosts.forEach((host, i) => {
          if (!host.startsWith('*')) addIssue(ctx, ['hosts', i], `host "${host}": resolution DYNAMIC_DNS needs wildcard hosts (e.g. "*.example.com")`);
        });
        if (addresses.length > 0) addIssue(ctx, ['addresses'], 'addresses cannot be set with resolution DYNAMIC_DNS, which routes by the hosts alone');
        if (endpoints.length > 0) addIssue(ctx, ['endpoints'], 'endpoints cannot be set with resolution DYNAMIC_DNS, which resolves the host each request names');
        ports.forEach((port, i) => {
          const protocol = protocolOf(port.protocol);
          const declared = port.protocol !== undefined && port.protocol !== '';
          if (declared && protocol === undefined) return;
          if (protocol === undefined || !DYNAMIC_DNS_PROTOCOLS.includes(protocol)) {
            addIssue(ctx, ['ports', i, 'protocol'], `resolution DYNAMIC_DNS supports only ${DYNAMIC_DNS_PROTOCOLS.join(', ')} ports; port "${port.name}" ${declared ? `is ${port.protocol}` : 'declares no protocol'}`);
          }
        });
        break;
    }

    // Plain TCP carries no Host header or SNI, so with several hosts the proxy could not tell which one a connection is for.
    if (resolution !== 'NONE' && hosts.length > 1) {
      ports.forEach((port, i) => {
        const protocol = protocolOf(port.protocol);
        const declared = port.protocol !== undefined && port.protocol !== '';
        if (declared && protocol === undefined) return;
        if (!isHTTPProtocol(protocol) && !isTLSProtocol(protocol)) {
          addIssue(ctx, ['ports', i, 'protocol'], `a ServiceEntry with several hosts and resolution ${resolution} needs HTTP or TLS ports, which name their host; port "${port.name}" ${declared ? `is ${port.protocol}` : 'declares no protocol'}`);
        }
      });
    }
  }), ALWAYS);
export type ServiceEntrySpec = z.infer<typeof ServiceEntrySpec>;

export const ServiceEntryKind = defineKind({
  kind: 'ServiceEntry',
  group: ISTIO_NETWORKING_GROUP,
  versions: ISTIO_NETWORKING_VERSIONS,
  schema: istioObject(ServiceEntrySpec),
});
export type ServiceEntry = z.infer<typeof ServiceEntryKind.schema>;
