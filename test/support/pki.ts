// A throwaway PKI for TLS tests, made by the openssl CLI for the run: a CA, a server certificate
// for 127.0.0.1/localhost and a client certificate, both signed by it. EC P-256 keys: generated
// in milliseconds, unlike RSA. The caller removes `dir` when done.

import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface Pki {
  readonly dir: string;
  readonly caCert: string;
  readonly serverKey: string;
  readonly serverCert: string;
  readonly clientKey: string;
  readonly clientCert: string;
}

function openssl(dir: string, args: string[]): void {
  execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
}

export function makePki(): Pki {
  const dir = mkdtempSync(join(tmpdir(), "fsagent-tls-"));
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
  openssl(dir, [
    "req",
    "-x509",
    ...ec,
    "-keyout",
    "ca.key",
    "-out",
    "ca.crt",
    "-days",
    "2",
    "-subj",
    "/CN=fsagent test CA",
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,keyCertSign,cRLSign",
  ]);
  const leaf = (name: string, extensions: string): void => {
    writeFileSync(join(dir, `${name}.ext`), extensions);
    openssl(dir, [
      "req",
      ...ec,
      "-keyout",
      `${name}.key`,
      "-out",
      `${name}.csr`,
      "-subj",
      `/CN=${name}`,
    ]);
    openssl(dir, [
      "x509",
      "-req",
      "-in",
      `${name}.csr`,
      "-CA",
      "ca.crt",
      "-CAkey",
      "ca.key",
      "-CAcreateserial",
      "-days",
      "2",
      "-extfile",
      `${name}.ext`,
      "-out",
      `${name}.crt`,
    ]);
  };
  leaf(
    "server",
    "basicConstraints=CA:FALSE\nsubjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n",
  );
  leaf("client", "basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n");
  return {
    dir,
    caCert: join(dir, "ca.crt"),
    serverKey: join(dir, "server.key"),
    serverCert: join(dir, "server.crt"),
    clientKey: join(dir, "client.key"),
    clientCert: join(dir, "client.crt"),
  };
}
