import * as z from 'zod';
import { addIssue, ALWAYS, crossField, dns1123Label, labelKeyProblem } from '../../schema/common.ts';
import { defineKind, kubernetesObject } from '../kind-definition.ts';

/** Finalizers without a domain are reserved to Kubernetes; anything else must be a qualified name. */
const STANDARD_FINALIZERS = ['kubernetes', 'orphan', 'foregroundDeletion'];

export const NamespaceSpec = z
  .strictObject({ finalizers: z.array(z.string()).optional() })
  .superRefine(crossField((spec, ctx) => {
    spec.finalizers?.forEach((name, i) => {
      if (name.includes('/') ? labelKeyProblem(name) !== undefined : !STANDARD_FINALIZERS.includes(name)) {
        addIssue(ctx, ['finalizers', i], `"${name}" is neither a standard finalizer (${STANDARD_FINALIZERS.join(', ')}) nor a qualified name such as example.com/cleanup`);
      }
    });
  }), ALWAYS);
export type NamespaceSpec = z.infer<typeof NamespaceSpec>;

/** Cluster-scoped: a namespace given in its metadata is ignored, as the API server ignores it. */
export const NamespaceKind = defineKind({
  kind: 'Namespace',
  group: '',
  versions: ['v1'],
  namespaced: false,
  schema: kubernetesObject({ spec: NamespaceSpec.optional(), status: z.unknown().optional() }, dns1123Label),
});
export type Namespace = z.infer<typeof NamespaceKind.schema>;
