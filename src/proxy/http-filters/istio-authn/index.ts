export { ISTIO_AUTHN_FILTER, ISTIO_AUTHN_TYPE, IstioAuthnFilterFactory, type IstioAuthnConfig } from './istio-authn-filter.ts';
