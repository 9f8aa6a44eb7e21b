import { createPrivateKey, type KeyObject, X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { createSecureContext, type SecureContextOptions } from "node:tls";
import { readFailure } from "../../config/file.js";
import { TLS_VERSIONS, type TlsServerConfig, WebConfigError } from "./parse.js";

/** What the HTTPS server is built with: the secure context and the client-certificate policy. */
export interface TlsServerOptions {
  /** Everything setSecureContext() takes: what a certificate rotation replaces. */
  readonly context: SecureContextOptions;
  readonly requestCert: boolean;
  readonly rejectUnauthorized: boolean;
}

/**
 * Reads the certificate, key and client CA, and checks them as the TLS handshake would: each a
 * PEM of the right kind, the key the certificate's. Throws a one-line WebConfigError naming the
 * key; never the file's contents.
 */
export function readTlsFiles(tls: TlsServerConfig): TlsServerOptions {
  const certPem = read(tls.certFile, "tls_server_config.cert_file");
  const keyPem = read(tls.keyFile, "tls_server_config.key_file");
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(certPem);
  } catch {
    throw new WebConfigError(
      `tls_server_config.cert_file: ${tls.certFile} holds no PEM certificate`,
    );
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(keyPem);
  } catch {
    throw new WebConfigError(`tls_server_config.key_file: ${tls.keyFile} holds no PEM private key`);
  }
  if (!cert.checkPrivateKey(key)) {
    throw new WebConfigError(
      `tls_server_config.key_file: ${tls.keyFile} is not the key of the certificate in ${tls.certFile}`,
    );
  }
  const ca =
    tls.clientCaFile === ""
      ? undefined
      : read(tls.clientCaFile, "tls_server_config.client_ca_file");
  if (ca !== undefined && !/-----BEGIN CERTIFICATE-----/.test(ca.toString("latin1"))) {
    throw new WebConfigError(
      `tls_server_config.client_ca_file: ${tls.clientCaFile} holds no PEM certificate`,
    );
  }
  const context: SecureContextOptions = {
    cert: certPem,
    key: keyPem,
    ...(ca === undefined ? {} : { ca }),
    minVersion: TLS_VERSIONS[tls.minVersion],
    maxVersion: TLS_VERSIONS[tls.maxVersion],
    honorCipherOrder: tls.preferServerCipherSuites,
  };
  try {
    createSecureContext(context);
  } catch (error) {
    const message = error instanceof Error ? error.message.split("\n", 1)[0] : String(error);
    throw new WebConfigError(`tls_server_config: ${message}`);
  }
  const type = tls.clientAuthType;
  return {
    context,
    requestCert: type !== "NoClientCert",
    // The handshake itself refuses a client without a certificate signed by the CA; the two
    // softer policies are checked once the connection is up (web-security.ts).
    rejectUnauthorized: type === "RequireAndVerifyClientCert",
  };
}

function read(file: string, key: string): Buffer {
  try {
    return readFileSync(file);
  } catch (error) {
    throw new WebConfigError(`${key}: cannot read ${file}: ${readFailure(error)}`);
  }
}
