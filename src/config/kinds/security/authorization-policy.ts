import * as z from 'zod';
import { defineKind, istioObject, ISTIO_SECURITY_GROUP, ISTIO_SECURITY_VERSIONS } from '../kind-definition.ts';

export const AuthorizationPolicySpec = z.looseObject({});
export type AuthorizationPolicySpec = z.infer<typeof AuthorizationPolicySpec>;

export const AuthorizationPolicyKind = defineKind({
  kind: 'AuthorizationPolicy',
  group: ISTIO_SECURITY_GROUP,
  versions: ISTIO_SECURITY_VERSIONS,
  schema: istioObject(AuthorizationPolicySpec),
});
export type AuthorizationPolicy = z.infer<typeof AuthorizationPolicyKind.schema>;
