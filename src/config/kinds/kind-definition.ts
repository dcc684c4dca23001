import * as z from 'zod';
import { dns1123Subdomain } from '../schema/common.ts';
import { objectMeta } from './object-meta.ts';

/** What Weft knows of one kind of resource: where it is served and the schema of the whole object. */
export interface KindDefinition<K extends string = string, O = unknown> {
  readonly kind: K;
  /** API group; '' for Kubernetes' core group (`apiVersion: v1`). */
  readonly group: string;
  readonly versions: readonly string[];
  readonly namespaced: boolean;
  readonly schema: z.ZodType<O>;
}

export function defineKind<K extends string, S extends z.ZodType>(definition: {
  kind: K;
  group: string;
  versions: readonly string[];
  namespaced?: boolean;
  schema: S;
}): KindDefinition<K, z.output<S>> {
  return { namespaced: true, ...definition, schema: definition.schema as z.ZodType<z.output<S>> };
}

export const ISTIO_NETWORKING_GROUP = 'networking.istio.io';
export const ISTIO_NETWORKING_VERSIONS = ['v1', 'v1beta1', 'v1alpha3'] as const;
export const ISTIO_SECURITY_GROUP = 'security.istio.io';
export const ISTIO_SECURITY_VERSIONS = ['v1', 'v1beta1'] as const;
export const ISTIO_TELEMETRY_GROUP = 'telemetry.istio.io';
export const ISTIO_TELEMETRY_VERSIONS = ['v1', 'v1alpha1'] as const;

/**
 * The whole object of a Kubernetes kind: apiVersion, kind, metadata whose name must match `name`,
 * then the kind's own top-level `fields` (spec, status, or others: a ServiceAccount has neither).
 */
export function kubernetesObject<F extends z.core.$ZodLooseShape>(fields: F, name: z.ZodType<string> = dns1123Subdomain) {
  return z.strictObject({
    apiVersion: z.string(),
    kind: z.string(),
    metadata: objectMeta(name),
    ...fields,
  });
}

/** The whole object of an Istio custom resource: metadata named as Kubernetes names custom resources, and a spec. */
export function istioObject<S extends z.ZodType>(spec: S) {
  return kubernetesObject({ spec: spec.prefault({} as z.input<S>), status: z.unknown().optional() });
}
