import * as z from 'zod';
import { defineKind, kubernetesObject } from '../kind-definition.ts';
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
  schema: kubernetesObject({
    secrets: z.array(ObjectReference).optional(),
    imagePullSecrets: z.array(LocalObjectReference).optional(),
    automountServiceAccountToken: z.boolean().optional(),
  }),
});
export type ServiceAccount = z.infer<typeof ServiceAccountKind.schema>;
