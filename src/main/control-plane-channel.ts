import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import type { AdsSettings } from '../proxy/xds-client/index.ts';

/** How the proxy's gRPC clients (ADS and the CA) reach the control plane over TLS. */
export interface ControlPlaneChannel {
  readonly credentials: grpc.ChannelCredentials;
  readonly channelOptions: grpc.ChannelOptions;
}

/**
 * TLS to the control plane as Istio's agent does it on 15012: the server's chain must end at a
 * root of `rootCertFile`, and its certificate must name `serverName` whatever address is dialled
 * (that name is also the SNI). Undefined without TLS settings (plaintext); throws, naming the file,
 * when the root cannot be read.
 */
export function controlPlaneChannel(tls: AdsSettings['tls']): ControlPlaneChannel | undefined {
  if (tls === undefined) return undefined;
  let text: string;
  try {
    text = readFileSync(tls.rootCertFile, 'utf8');
  } catch (error) {
    throw new Error(`the control plane's root (${tls.rootCertFile}) cannot be read: ${(error as Error).message}`);
  }
  const blocks = text.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) throw new Error(`the control plane's root (${tls.rootCertFile}) holds no PEM certificate`);
  for (const block of blocks) {
    try {
      new X509Certificate(block);
    } catch (error) {
      throw new Error(`the control plane's root (${tls.rootCertFile}) holds a certificate that does not parse: ${(error as Error).message}`);
    }
  }
  return {
    credentials: grpc.credentials.createSsl(Buffer.from(blocks.join('\n'))),
    channelOptions: { 'grpc.ssl_target_name_override': tls.serverName },
  };
}
