// @peculiar/x509 resolves its algorithms through tsyringe, which needs the Reflect metadata API loaded first.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(globalThis.crypto);

/** @peculiar/x509, ready to use with Node's WebCrypto (the proxy's own setup: src/proxy does not import src/ca). */
export { x509 };
