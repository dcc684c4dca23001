import * as z from 'zod';
import { dns1123Subdomain } from '../../schema/common.ts';
import { defineKind } from '../kind-definition.ts';
import { objectMeta } from '../object-meta.ts';

export const NamespaceKind = defineKind({
  kind: 'Namespace',
  group: '',
  versions: ['v1'],
  namespaced: false,
  schema: z.looseObject({ apiVersion: z.string(), kind: z.string(), metadata: objectMeta(dns1123Subdomain) }),
});
export type Namespace = z.infer<typeof NamespaceKind.schema>;
