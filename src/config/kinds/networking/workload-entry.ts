import * as z from 'zod';
import { addIssue, ALWAYS, crossField, hostNameProblem, isIP, labels, portNumber, uint32 } from '../../schema/common.ts';
import { defineKind, istioObject, ISTIO_NETWORKING_GROUP, ISTIO_NETWORKING_VERSIONS } from '../kind-definition.ts';

export const UNIX_ADDRESS_PREFIX = 'unix://';

/** Istio's port names are DNS-1123 labels in either case (`http`, `HTTP-web`). */
const PORT_NAME = /^[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?$/;

export function portNameProblem(name: string): string | undefined {
  if (name.length <= 63 && PORT_NAME.test(name)) return undefined;
  return `"${name}" is not a valid port name (at most 63 letters, digits and '-', starting and ending with a letter or digit)`;
}

export const portName = z.string().check((ctx) => {
  const problem = portNameProblem(ctx.value);
  if (problem !== undefined) ctx.issues.push({ code: 'custom', message: problem, input: ctx.value });
});

/** Why the part of a `unix://` address after the prefix is not a socket: an absolute file path or `@abstract-name`. */
export function unixSocketProblem(address: string): string | undefined {
  const socket = address.slice(UNIX_ADDRESS_PREFIX.length);
  if (socket === '') return `"${address}" names no socket (expected unix:///absolute/path or unix://@abstract-name)`;
  if (socket.startsWith('@')) return undefined;
  if (!socket.startsWith('/') || socket.endsWith('/')) return `"${address}" is not an absolute path to a socket file (expected unix:///absolute/path or unix://@abstract-name)`;
  return undefined;
}

/**
 * Why `name` is not a domain name as Istio checks it: labels of letters, digits and '-', a
 * top-level label that is not all digits, and a wildcard only as the first label when allowed
 * (`*.example.com`, `*foo.example.com`).
 */
export function domainNameProblem(name: string, options: { wildcard: boolean }): string | undefined {
  const problem = hostNameProblem(name, options);
  if (problem !== undefined) return problem;
  const labels = (name.endsWith('.') ? name.slice(0, -1) : name).split('.');
  if ((!options.wildcard || labels.length > 1) && /^\d+$/.test(labels[labels.length - 1]!)) {
    return `host "${name}" is not a valid DNS name (its last label is all digits)`;
  }
  return undefined;
}

/** Why `address` is neither an IP, a unix socket nor a DNS name, the three forms of a WorkloadEntry address. */
function addressProblem(address: string): string | undefined {
  if (address.startsWith(UNIX_ADDRESS_PREFIX)) return unixSocketProblem(address);
  if (isIP(address)) return undefined;
  const withPort = /^(.*):(\d+)$/.exec(address);
  if (withPort !== null && (isIP(withPort[1]!) || domainNameProblem(withPort[1]!, { wildcard: false }) === undefined)) {
    return `address "${address}" must not include a port (map service port names to endpoint ports in "ports")`;
  }
  if (domainNameProblem(address, { wildcard: false }) !== undefined) return `address "${address}" is not an IP address, a DNS name or a unix:// socket path`;
  return undefined;
}

const endpointPorts = z
  .record(z.string(), portNumber)
  .superRefine(crossField((ports, ctx) => {
    for (const name of Object.keys(ports)) {
      const problem = portNameProblem(name);
      if (problem !== undefined) addIssue(ctx, [name], problem);
    }
    if (Object.keys(ports).length > 128) addIssue(ctx, [], `at most 128 ports are allowed, got ${Object.keys(ports).length}`);
  }), ALWAYS);

/** The fields of a WorkloadEntry, shared with the template of a WorkloadGroup. */
export const workloadEntryFields = {
  address: z.string().max(256).optional(),
  ports: endpointPorts.optional(),
  labels: labels.optional(),
  network: z.string().max(2048).optional(),
  locality: z.string().max(2048).optional(),
  weight: uint32.optional(),
  serviceAccount: z.string().max(253).optional(),
};

/**
 * One workload outside Kubernetes (a VM, a bare-metal host), and each of a ServiceEntry's
 * `endpoints`. The address is an IP, a DNS name or `unix://` socket; it may be left out only when
 * `network` says which network's gateway reaches the workload. A ServiceEntry narrows the address
 * forms by its resolution.
 */
export const WorkloadEntrySpec = z
  .strictObject(workloadEntryFields)
  .superRefine(crossField((we, ctx) => {
    if (typeof we !== 'object' || we === null) return; // already reported as not a mapping
    const address = we.address ?? '';
    if (address === '') {
      if ((we.network ?? '') === '') addIssue(ctx, ['address'], 'address is required (it may be left out only when network is set)');
      return;
    }
    const problem = addressProblem(address);
    if (problem !== undefined) addIssue(ctx, ['address'], problem);
    if (address.startsWith(UNIX_ADDRESS_PREFIX) && we.ports !== undefined) {
      addIssue(ctx, ['ports'], 'a unix:// address takes no ports; remove "ports"');
    }
  }), ALWAYS);
export type WorkloadEntrySpec = z.infer<typeof WorkloadEntrySpec>;

export const WorkloadEntryKind = defineKind({
  kind: 'WorkloadEntry',
  group: ISTIO_NETWORKING_GROUP,
  versions: ISTIO_NETWORKING_VERSIONS,
  schema: istioObject(WorkloadEntrySpec),
});
export type WorkloadEntry = z.infer<typeof WorkloadEntryKind.schema>;
