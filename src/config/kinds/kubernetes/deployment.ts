import * as z from 'zod';
import { dns1123Subdomain } from '../../schema/common.ts';
import { defineKind } from '../kind-definition.ts';
import { objectMeta } from '../object-meta.ts';

export const DeploymentKind = defineKind({
  kind: 'Deployment',
  group: 'apps',
  versions: ['v1'],
  namespaced: true,
  schema: z.looseObject({ apiVersion: z.string(), kind: z.string(), metadata: objectMeta(dns1123Subdomain) }),
});
export type Deployment = z.infer<typeof DeploymentKind.schema>;
