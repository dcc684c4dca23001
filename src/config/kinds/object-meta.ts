import * as z from 'zod';
import { dns1123Label, labels } from '../schema/common.ts';

/** Kubernetes ObjectMeta; `name` is checked by each kind, whose naming rules differ. */
export function objectMeta<N extends z.ZodType<string>>(name: N) {
  return z.strictObject({
    name,
    generateName: z.string().optional(),
    namespace: dns1123Label.optional(),
    labels: labels.optional(),
    annotations: z.record(z.string(), z.string()).optional(),
    uid: z.string().optional(),
    resourceVersion: z.string().optional(),
    generation: z.number().int().optional(),
    creationTimestamp: z.union([z.string(), z.date(), z.null()]).optional(),
    deletionTimestamp: z.union([z.string(), z.date(), z.null()]).optional(),
    deletionGracePeriodSeconds: z.number().int().optional(),
    ownerReferences: z.array(z.looseObject({})).optional(),
    finalizers: z.array(z.string()).optional(),
    managedFields: z.array(z.looseObject({})).optional(),
    selfLink: z.string().optional(),
  });
}

export type ObjectMeta = z.infer<ReturnType<typeof objectMeta<z.ZodString>>>;
