import { X509Certificate } from 'node:crypto';

/** One TLS certificate the proxy holds, PEM each, as `/certs` lists it: the CA certs it trusts and its own chain. */
export interface HeldCertificate {
  readonly caCertPem: readonly string[];
  /** The proxy's own certificate first (Envoy shows only that one). */
  readonly certChainPem: readonly string[];
}

/** What `/certs` asks for the proxy's certificates; main/ adapts whatever holds them. */
export type CertificatesProvider = () => readonly HeldCertificate[];

interface SubjectAltName {
  readonly uri?: string;
  readonly dns?: string;
  readonly ip_address?: string;
}

/** envoy.admin.v3.CertificateDetails, JSON form. */
export interface CertificateDetails {
  readonly path: string;
  readonly serial_number: string;
  readonly subject_alt_names: readonly SubjectAltName[];
  /** uint64, so a string in proto3 JSON. */
  readonly days_until_expiration: string;
  readonly valid_from: string;
  readonly expiration_time: string;
}

const DAY_MS = 86_400_000;

/** Envoy's `/certs` answer (envoy.admin.v3.Certificates). Certificates held in memory have the path `<inline>`, as SDS ones do in Envoy. */
export function formatCertificates(certificates: readonly HeldCertificate[], now: number): { certificates: { ca_cert: CertificateDetails[]; cert_chain: CertificateDetails[] }[] } {
  return {
    certificates: certificates.map((held) => ({
      ca_cert: held.caCertPem.map((pem) => details(pem, now)),
      cert_chain: held.certChainPem.slice(0, 1).map((pem) => details(pem, now)),
    })),
  };
}

function details(pem: string, now: number): CertificateDetails {
  const certificate = new X509Certificate(pem);
  const notAfter = certificate.validToDate.getTime();
  return {
    path: '<inline>',
    serial_number: certificate.serialNumber.toLowerCase(),
    subject_alt_names: subjectAltNames(certificate.subjectAltName),
    days_until_expiration: String(Math.max(0, Math.floor((notAfter - now) / DAY_MS))),
    valid_from: timestamp(certificate.validFromDate),
    expiration_time: timestamp(certificate.validToDate),
  };
}

/** node's `subjectAltName` text ("URI:spiffe://..., DNS:a, IP Address:10.0.0.1") as Envoy's list. */
function subjectAltNames(text: string | undefined): SubjectAltName[] {
  if (text === undefined) return [];
  const names: SubjectAltName[] = [];
  for (const entry of text.split(', ')) {
    const colon = entry.indexOf(':');
    const kind = entry.slice(0, colon);
    const value = entry.slice(colon + 1);
    if (kind === 'URI') names.push({ uri: value });
    else if (kind === 'DNS') names.push({ dns: value });
    else if (kind === 'IP Address') names.push({ ip_address: value });
  }
  return names;
}

/** A protobuf Timestamp in JSON: RFC 3339, whole seconds as Envoy prints them. */
function timestamp(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}
