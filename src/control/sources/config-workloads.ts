import { isIP } from 'node:net';
import { ofKind, type AnyResource, type Resource } from '../../config/index.ts';
import type { Labels, Workload, WorkloadPort } from '../model/index.ts';

const TLS_MODE_LABEL = 'security.istio.io/tlsMode';
const INJECT = 'sidecar.istio.io/inject';
const NETWORK_LABEL = 'topology.istio.io/network';
/** Kubernetes labels cannot hold '/', so these write the locality with '.' (`us-east.zone-a`). */
const LOCALITY_LABELS = ['topology.istio.io/locality', 'istio-locality'];

/**
 * The workloads written as configuration: Pods that have an IP (`status.podIP`) and
 * WorkloadEntries that have an address, in the order of `resources`.
 */
export function workloadsFromConfig(resources: readonly AnyResource[]): Workload[] {
  const workloads: Workload[] = [];
  for (const pod of ofKind(resources, 'Pod')) {
    const workload = podWorkload(pod);
    if (workload !== undefined) workloads.push(workload);
  }
  for (const entry of ofKind(resources, 'WorkloadEntry')) {
    const workload = workloadEntryWorkload(entry);
    if (workload !== undefined) workloads.push(workload);
  }
  return workloads;
}

/**
 * A Pod, with Kubernetes' and Istio's readings: it is an endpoint while it runs and has an IP; it
 * is healthy unless its Ready condition is False or it is being deleted. Pods written by hand
 * (local mode) carry none of the labels and annotations injection adds, and every local workload
 * runs with a sidecar, so the sidecar is assumed: tlsMode is 'istio' unless the tlsMode label says
 * otherwise, injection is turned off (`sidecar.istio.io/inject: "false"`), or the pod uses the host
 * network (which Istio never injects).
 */
function podWorkload(pod: Resource<'Pod'>): Workload | undefined {
  const metadata = pod.object.metadata;
  const spec = pod.object.spec;
  const status = record(pod.object.status);
  const phase = status['phase'];
  if (phase === 'Succeeded' || phase === 'Failed') return undefined;
  const address = podAddress(status);
  if (address === undefined) return undefined;
  const labels: Labels = metadata.labels ?? {};
  const ready = conditionStatus(status, 'Ready');
  const ports: WorkloadPort[] = spec.containers.flatMap((c) =>
    (c.ports ?? []).map((p) => ({ port: p.containerPort, ...(p.name !== undefined ? { name: p.name } : {}), protocol: p.protocol })));
  const injectionOff = labels[INJECT] === 'false' || metadata.annotations?.[INJECT] === 'false' || spec.hostNetwork === true;
  const tlsModeLabel = labels[TLS_MODE_LABEL];
  return {
    uid: `Pod/${pod.namespace}/${pod.name}`,
    name: pod.name,
    namespace: pod.namespace,
    labels,
    serviceAccount: spec.serviceAccountName ?? spec.serviceAccount ?? 'default',
    address,
    ports,
    locality: labelLocality(labels),
    network: labels[NETWORK_LABEL] ?? '',
    weight: 1,
    healthy: ready !== 'False' && metadata.deletionTimestamp == null,
    tlsMode: tlsModeLabel !== undefined ? (tlsModeLabel === 'istio' ? 'istio' : 'disabled') : injectionOff ? 'disabled' : 'istio',
    origin: 'Pod',
  };
}

/**
 * A WorkloadEntry (a VM or host outside Kubernetes). It is healthy unless its Healthy condition is
 * False (set by health checks). An entry with no address (reached through its network's gateway)
 * is left out: Weft does not route across networks.
 */
function workloadEntryWorkload(entry: Resource<'WorkloadEntry'>): Workload | undefined {
  const spec = entry.object.spec;
  const address = spec.address ?? '';
  if (address === '') return undefined;
  const labels: Labels = spec.labels ?? {};
  return {
    uid: `WorkloadEntry/${entry.namespace}/${entry.name}`,
    name: entry.name,
    namespace: entry.namespace,
    labels,
    // Istio gives an entry without a service account no identity, rather than `default`.
    serviceAccount: spec.serviceAccount ?? '',
    address,
    ports: Object.entries(spec.ports ?? {}).map(([name, port]) => ({ port, name })),
    locality: spec.locality ?? '',
    network: spec.network ?? '',
    // Envoy's weights start at 1; Istio reads 0 as unset.
    weight: spec.weight !== undefined && spec.weight > 0 ? spec.weight : 1,
    healthy: conditionStatus(record(entry.object.status), 'Healthy') !== 'False',
    // As Istio: the tlsMode label when present, else mutual TLS only for an entry with an identity (a service account).
    tlsMode: entryTlsMode(labels[TLS_MODE_LABEL], spec.serviceAccount),
    origin: 'WorkloadEntry',
  };
}

function entryTlsMode(label: string | undefined, serviceAccount: string | undefined): 'istio' | 'disabled' {
  if (label !== undefined) return label === 'istio' ? 'istio' : 'disabled';
  return serviceAccount !== undefined && serviceAccount !== '' ? 'istio' : 'disabled';
}

function podAddress(status: Record<string, unknown>): string | undefined {
  const podIP = status['podIP'];
  if (typeof podIP === 'string' && isIP(podIP) !== 0) return podIP;
  const podIPs = status['podIPs'];
  if (!Array.isArray(podIPs)) return undefined;
  const ip = record(podIPs[0])['ip'];
  return typeof ip === 'string' && isIP(ip) !== 0 ? ip : undefined;
}

/** The `status` of the condition of `type` ('True', 'False', 'Unknown'), or undefined when there is none. */
function conditionStatus(status: Record<string, unknown>, type: string): unknown {
  const conditions = status['conditions'];
  if (!Array.isArray(conditions)) return undefined;
  return conditions.map(record).find((c) => c['type'] === type)?.['status'];
}

function labelLocality(labels: Labels): string {
  for (const key of LOCALITY_LABELS) {
    const value = labels[key];
    if (value !== undefined) return value.replaceAll('.', '/');
  }
  return '';
}

/** `status` is not part of the schemas (Kubernetes writes it), so it is read defensively. */
function record(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}
