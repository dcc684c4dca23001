import * as z from 'zod';
import { dns1123Subdomain } from '../../schema/common.ts';
import { defineKind } from '../kind-definition.ts';
import { objectMeta } from '../object-meta.ts';
import { LocalObjectReference } from './pod.ts';

export const ObjectReference = z.strictObject({
  kind: z.string().optional(),
  namespace: z.string().optional(),
  name: z.string().optional(),
  uid: z.string().optional(),
  apiVersion: z.string().optional(),
  resourceVersion: z.string().optional(),
  fieldPath: z.string().optional(),
});
export type ObjectReference = z.infer<typeof ObjectReference>;

/** A ServiceAccount is a workload's identity in the mesh (`spiffe://<trust domain>/ns/<ns>/sa/<name>`); it has no spec. */
export const ServiceAccountKind = defineKind({
  kind: 'ServiceAccount',
  group: '',
  versions: ['v1'],
  namespaced: true,
  schema: z.strictObject({
    apiVersion: z.string(),
    kind: z.string(),
    metadata: objectMeta(dns1123Subdomain),
    secrets: z.array(ObjectReference).optional(),
    imagePullSecrets: z.array(LocalObjectReference).optional(),
    automountServiceAccountToken: z.boolean().optional(),
  }),
});
export type ServiceAccount = z.infer<typeof ServiceAccountKind.schema>;
