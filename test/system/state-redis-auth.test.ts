import assert from "node:assert/strict";
import { type ChildProcess, execFileSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { Redis, type RedisOptions } from "ioredis";
import { type Logger, pino } from "pino";
import type { RedisConfig, StorageConfig } from "../../src/config/types.js";
import { RedisStore } from "../../src/state/redis-store.js";
import type { StoreOpCount } from "../../src/state/store.js";
import { tempDir } from "../support/child.js";
import { closedPort, pollUntil } from "../support/net.js";
import {
  capturingLogger,
  killProcess,
  legKey,
  type PrivateRedis,
  sampleLeg,
  spawnRedisServer,
} from "../support/redis.js";
import { waitFor } from "../support/wait.js";

// Redis authentication and transport security, each against a private redis-server started here
// (never the shared one on 6379: ACL users and TLS listeners are server-wide settings).

const ADMIN_PASSWORD = `admin-${randomUUID()}`;

function storage(redis: Partial<RedisConfig> & Pick<RedisConfig, "port">): StorageConfig {
  return {
    type: "redis",
    maxLegs: 1000,
    legTtlMs: 60_000,
    redis: {
      host: "127.0.0.1",
      password: "",
      db: 0,
      keyPrefix: "fsagent-test:",
      username: "",
      tls: false,
      caFile: "",
      ...redis,
    },
  };
}

/** Fast reconnects and short timeouts: the failure cases must show up well within a second. */
function newStore(config: StorageConfig, logger: Logger): RedisStore {
  return new RedisStore(config, {
    logger,
    flushIntervalMs: 20,
    connectTimeoutMs: 1000,
    reconnect: { initialMs: 50, maxMs: 200 },
    closeTimeoutMs: 500,
  });
}

function op(store: { operations(): readonly StoreOpCount[] }, operation: string, status: string) {
  return store.operations().find((o) => o.operation === operation && o.status === status)?.count;
}

const children = new Set<ChildProcess>();
const dirs: { remove(): void }[] = [];

// Registered before anything is started, so a failure half-way still cleans up.
after(async () => {
  await Promise.all([...children].map(kill));
  for (const dir of dirs) dir.remove();
});

function startServer(port: number, dir: string, extra: readonly string[]): PrivateRedis {
  const server = spawnRedisServer(port, dir, ADMIN_PASSWORD, extra);
  children.add(server.child);
  return server;
}

function kill(child: ChildProcess): Promise<void> {
  children.delete(child);
  return killProcess(child);
}

/** An admin connection (default user, server password); retries while the server starts. */
async function admin(options: RedisOptions): Promise<Redis> {
  const client = new Redis({
    host: "127.0.0.1",
    password: ADMIN_PASSWORD,
    retryStrategy: () => 25,
    maxRetriesPerRequest: null,
    disconnectTimeout: 50,
    ...options,
  });
  client.on("error", () => {});
  await pollUntil(
    () => client.ping(),
    (reply) => reply === "PONG",
    "the private redis-server",
    5000,
  );
  return client;
}

describe("RedisStore with an ACL user (private redis-server)", () => {
  const USER_PASSWORD = `secret-pw-${randomUUID()}`;
  let port: number;
  let server: PrivateRedis;
  let root: Redis;

  before(async () => {
    port = await closedPort();
    const dir = tempDir();
    dirs.push(dir);
    server = startServer(port, dir.dir, []);
    root = await admin({ port });
    // The user may only touch keys under fsagent-test:, so a success also proves that the store
    // authenticated as this user and not as the default one.
    const reply = await root.call(
      "ACL",
      "SETUSER",
      "fsagent",
      "on",
      `>${USER_PASSWORD}`,
      "~fsagent-test:*",
      "+@all",
    );
    assert.equal(reply, "OK");
  });

  after(async () => {
    root.disconnect();
    await kill(server.child);
  });

  it("writes and loads as that user with a matching key prefix", async () => {
    const prefix = `fsagent-test:${randomUUID()}:`;
    const config = storage({
      port,
      username: "fsagent",
      password: USER_PASSWORD,
      keyPrefix: prefix,
    });
    const capture = capturingLogger("trace");
    const writer = newStore(config, capture.logger);
    try {
      await waitFor(() => writer.connected, "the ACL user's connection", 3000);
      writer.save(sampleLeg("acl-1", 4));
      await writer.flush();
      assert.equal(writer.pending, 0);
      assert.equal(op(writer, "flush", "error"), 0);
      assert.deepEqual(
        JSON.parse((await root.get(legKey(prefix, "acl-1"))) ?? "null"),
        sampleLeg("acl-1", 4),
      );
    } finally {
      await writer.close();
    }
    // A second store (a restarted agent) has nothing in memory: the leg comes from Redis.
    const reader = newStore(config, capture.logger);
    try {
      await waitFor(() => reader.connected, "the ACL user's second connection", 3000);
      assert.deepEqual(await reader.load("acl-1"), sampleLeg("acl-1", 4));
      assert.equal(op(reader, "load", "ok"), 1);
      assert.equal(op(reader, "load", "error"), 0);
    } finally {
      await reader.close();
    }
    assert.ok(!capture.text().includes(USER_PASSWORD), "the password is never logged");
  });

  it("keys outside the user's pattern are refused (NOPERM): counted, kept in memory", async () => {
    const prefix = `other-${randomUUID()}:`;
    const config = storage({
      port,
      username: "fsagent",
      password: USER_PASSWORD,
      keyPrefix: prefix,
    });
    const store = newStore(config, pino({ level: "silent" }));
    try {
      await waitFor(() => store.connected, "the ACL user's connection", 3000);
      store.save(sampleLeg("acl-2", 4));
      await store.flush();
      assert.equal(op(store, "flush", "error"), 1);
      assert.equal(op(store, "save", "error"), 1);
      assert.equal(store.pending, 1, "the write stays pending");
      assert.deepEqual(store.peek("acl-2"), sampleLeg("acl-2", 4));
      assert.equal(await root.exists(legKey(prefix, "acl-2")), 0);
    } finally {
      await store.close();
    }
  });

  it("a wrong password: keeps working from memory, counts flush/load errors, never logs it", async () => {
    const wrong = `wrong-pw-${randomUUID()}`;
    const config = storage({ port, username: "fsagent", password: wrong });
    const capture = capturingLogger("trace");
    const store = newStore(config, capture.logger);
    try {
      await waitFor(
        () => capture.text().includes("WRONGPASS"),
        "the rejected authentication to be logged",
        3000,
      );
      assert.equal(store.connected, false);
      store.save(sampleLeg("acl-3", 4));
      assert.deepEqual(
        store.peek("acl-3"),
        sampleLeg("acl-3", 4),
        "the hot path works from memory",
      );
      await store.flush();
      assert.ok((op(store, "flush", "error") ?? 0) >= 1, "the flush is counted as failed");
      assert.equal(await store.load("not-in-memory"), undefined);
      assert.equal(op(store, "load", "error"), 1);
      assert.equal(store.pending, 1);
      // Give the reconnect loop a few rounds to log whatever it logs.
      await new Promise((resolve) => setTimeout(resolve, 300));
    } finally {
      await store.close();
    }
    const text = capture.text();
    assert.ok(!text.includes(wrong), "the wrong password is not logged");
    assert.ok(!text.includes(USER_PASSWORD), "nor the right one");
    assert.ok(!text.includes(ADMIN_PASSWORD), "nor the server's");
  });
});

// ---- TLS ---------------------------------------------------------------------------------------

interface TlsSetup {
  readonly port: number;
  readonly caFile: string;
  readonly ca: Buffer;
  readonly server: PrivateRedis;
  readonly root: Redis;
}

/** A throwaway CA and a server certificate for 127.0.0.1 (IP SAN only), made with openssl. */
function makeCertificates(dir: string): { caFile: string; certFile: string; keyFile: string } {
  const file = (name: string): string => path.join(dir, name);
  const openssl = (args: readonly string[]): void => {
    execFileSync("openssl", args, { stdio: "ignore" });
  };
  // EC keys: generated in milliseconds, unlike RSA.
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  openssl(
    ["req", "-x509", ...ec, "-keyout", file("ca.key"), "-out", file("ca.crt")].concat([
      "-days",
      "1",
      "-subj",
      "/CN=fsagent test CA",
    ]),
  );
  openssl(
    ["req", ...ec, "-keyout", file("server.key"), "-out", file("server.csr")].concat([
      "-subj",
      "/CN=127.0.0.1",
    ]),
  );
  writeFileSync(file("ext.cnf"), "subjectAltName=IP:127.0.0.1\n");
  openssl([
    "x509",
    "-req",
    "-in",
    file("server.csr"),
    "-CA",
    file("ca.crt"),
    "-CAkey",
    file("ca.key"),
    "-CAcreateserial",
    "-out",
    file("server.crt"),
    "-days",
    "1",
    "-extfile",
    file("ext.cnf"),
  ]);
  return { caFile: file("ca.crt"), certFile: file("server.crt"), keyFile: file("server.key") };
}

/**
 * Starts a TLS-only redis-server. A build without TLS refuses the tls-* directives and exits at
 * once: that (and only that) becomes a skip; a TLS server that starts but cannot be reached is a
 * failure of the test.
 */
async function startTls(): Promise<TlsSetup | { skip: string }> {
  const dir = tempDir();
  dirs.push(dir);
  let certs: ReturnType<typeof makeCertificates>;
  try {
    certs = makeCertificates(dir.dir);
  } catch (error) {
    return { skip: `openssl CLI not usable: ${(error as Error).message}` };
  }
  const port = await closedPort();
  const server = startServer(0, dir.dir, [
    "--tls-port",
    String(port),
    "--tls-cert-file",
    certs.certFile,
    "--tls-key-file",
    certs.keyFile,
    "--tls-ca-cert-file",
    certs.caFile,
    "--tls-auth-clients",
    "no",
  ]);
  const ca = readFileSync(certs.caFile);
  const exited = new Promise<"exited">((resolve) =>
    server.child.once("exit", () => resolve("exited")),
  );
  const rootPromise = admin({ port, tls: { ca } });
  const first = await Promise.race([rootPromise, exited]);
  if (first === "exited") {
    void rootPromise.then(
      (client) => client.disconnect(),
      () => {},
    );
    const lastLine = server.output().trim().split("\n").pop() ?? "";
    const reason = "redis-server built without TLS";
    console.log(`# ${reason} (it exited: ${lastLine})`);
    return { skip: reason };
  }
  return { port, caFile: certs.caFile, ca, server, root: first };
}

const tls = await startTls();

describe("RedisStore over TLS (private redis-server)", {
  skip: "skip" in tls ? tls.skip : false,
}, () => {
  const setup = tls as TlsSetup;

  after(async () => {
    setup.root.disconnect();
    await kill(setup.server.child);
  });

  it("with the CA file: writes and loads", async () => {
    const prefix = `tls-${randomUUID()}:`;
    const config = storage({
      port: setup.port,
      password: ADMIN_PASSWORD,
      keyPrefix: prefix,
      tls: true,
      caFile: setup.caFile,
    });
    const capture = capturingLogger("trace");
    const writer = newStore(config, capture.logger);
    try {
      await waitFor(() => writer.connected, "the TLS connection", 3000);
      writer.save(sampleLeg("tls-1", 4));
      await writer.flush();
      assert.equal(writer.pending, 0);
      assert.equal(op(writer, "flush", "error"), 0);
      assert.deepEqual(
        JSON.parse((await setup.root.get(legKey(prefix, "tls-1"))) ?? "null"),
        sampleLeg("tls-1", 4),
      );
    } finally {
      await writer.close();
    }
    const reader = newStore(config, capture.logger);
    try {
      await waitFor(() => reader.connected, "the second TLS connection", 3000);
      assert.deepEqual(await reader.load("tls-1"), sampleLeg("tls-1", 4));
      assert.equal(op(reader, "load", "ok"), 1);
    } finally {
      await reader.close();
    }
    const text = capture.text();
    assert.ok(!text.includes(ADMIN_PASSWORD), "the password is never logged");
    assert.ok(!text.includes("BEGIN CERTIFICATE"), "nor the CA file's contents");
  });

  it("without the CA (system trust store): the server is refused, counted, no crash", async () => {
    const config = storage({ port: setup.port, password: ADMIN_PASSWORD, tls: true });
    const capture = capturingLogger("trace");
    const store = newStore(config, capture.logger);
    try {
      await waitFor(
        () => /certificate/i.test(capture.text()),
        "the certificate verification failure to be logged",
        3000,
      );
      assert.equal(store.connected, false);
      store.save(sampleLeg("tls-2", 4));
      await store.flush();
      assert.ok((op(store, "flush", "error") ?? 0) >= 1);
      assert.equal(await store.load("not-in-memory"), undefined);
      assert.equal(op(store, "load", "error"), 1);
      assert.deepEqual(store.peek("tls-2"), sampleLeg("tls-2", 4));
    } finally {
      await store.close();
    }
    assert.ok(!capture.text().includes(ADMIN_PASSWORD));
  });

  it("the host name is verified: a certificate without it is refused even from the trusted CA", async () => {
    // The certificate names only IP 127.0.0.1; "localhost" reaches the same server.
    const config = storage({
      host: "localhost",
      port: setup.port,
      password: ADMIN_PASSWORD,
      tls: true,
      caFile: setup.caFile,
    });
    const capture = capturingLogger("trace");
    const store = newStore(config, capture.logger);
    try {
      await waitFor(
        () => capture.text().includes("ERR_TLS_CERT_ALTNAME_INVALID"),
        "the host name mismatch to be logged",
        3000,
      );
      assert.equal(store.connected, false);
    } finally {
      await store.close();
    }
  });

  it("plain TCP to the TLS port never becomes ready", async () => {
    const config = storage({ port: setup.port, password: ADMIN_PASSWORD, tls: false });
    const store = newStore(config, pino({ level: "silent" }));
    try {
      assert.equal(await store.ready(500), false);
    } finally {
      await store.close();
    }
  });
});
