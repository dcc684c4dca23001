import * as z from 'zod';
import { defineKind, istioObject, ISTIO_SECURITY_GROUP, ISTIO_SECURITY_VERSIONS } from '../kind-definition.ts';

export const RequestAuthenticationSpec = z.looseObject({});
export type RequestAuthenticationSpec = z.infer<typeof RequestAuthenticationSpec>;

export const RequestAuthenticationKind = defineKind({
  kind: 'RequestAuthentication',
  group: ISTIO_SECURITY_GROUP,
  versions: ISTIO_SECURITY_VERSIONS,
  schema: istioObject(RequestAuthenticationSpec),
});
export type RequestAuthentication = z.infer<typeof RequestAuthenticationKind.schema>;
