// The exporter-toolkit web config as fsagent reads it (issue 22): the file's keys and their
// errors, and basic authentication against bcrypt hashes with its cache. Certificates, TLS and
// the server itself are in test/system/http-security.test.ts.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import bcrypt from "bcryptjs";
import { BasicAuth, hashPassword } from "../src/server/web-config/basic-auth.js";
import { parseWebConfig, WebConfigError } from "../src/server/web-config/parse.js";

const FILE = "/etc/fsagent/web.yml";
// bcrypt's lowest cost keeps the tests fast; the format is the same at every cost.
const ALICE = bcrypt.hashSync("wonderland", 4);

function parseError(text: string): string {
  try {
    parseWebConfig(text, FILE);
  } catch (error) {
    assert.ok(error instanceof WebConfigError, String(error));
    assert.doesNotMatch(error.message, /\n/, "one line");
    return error.message;
  }
  assert.fail(`accepted: ${text}`);
}

describe("the web config file", () => {
  it("reads an exporter-toolkit file: TLS, users, headers; relative paths from the file's directory", () => {
    const config = parseWebConfig(
      [
        "tls_server_config:",
        "  cert_file: tls/server.crt",
        "  key_file: /keys/server.key",
        "  client_ca_file: ca.crt",
        "  client_auth_type: RequireAndVerifyClientCert",
        "  min_version: TLS13",
        "http_server_config:",
        "  http2: true",
        "  headers:",
        "    x-frame-options: deny",
        "    Strict-Transport-Security: max-age=31536000",
        "basic_auth_users:",
        `  alice: '${ALICE}'`,
      ].join("\n"),
      FILE,
    );
    assert.deepEqual(config, {
      tls: {
        certFile: "/etc/fsagent/tls/server.crt",
        keyFile: "/keys/server.key",
        clientCaFile: "/etc/fsagent/ca.crt",
        clientAuthType: "RequireAndVerifyClientCert",
        minVersion: "TLS13",
        maxVersion: "TLS13",
        preferServerCipherSuites: true,
      },
      users: { alice: ALICE },
      headers: { "X-Frame-Options": "deny", "Strict-Transport-Security": "max-age=31536000" },
    });
  });

  it("an empty file, or one with empty sections, changes nothing", () => {
    const none = { tls: null, users: {}, headers: {} };
    assert.deepEqual(parseWebConfig("", FILE), none);
    assert.deepEqual(parseWebConfig("basic_auth_users:\ntls_server_config:\n", FILE), none);
  });

  it("defaults as the toolkit's: no client certificate, TLS 1.2 to 1.3", () => {
    const config = parseWebConfig("tls_server_config: {cert_file: a.crt, key_file: a.key}", FILE);
    assert.equal(config.tls?.clientAuthType, "NoClientCert");
    assert.equal(config.tls?.minVersion, "TLS12");
    assert.equal(config.tls?.maxVersion, "TLS13");
  });

  it("every mistake is one line naming the key", () => {
    const cases: [string, RegExp][] = [
      [
        "basic_auth_users: {alice: wonderland}",
        /^basic_auth_users\.alice: expected a bcrypt hash .*fsagent hash-password/,
      ],
      [
        "basic_auth_users: {alice: '$1$abc$def'}",
        /^basic_auth_users\.alice: expected a bcrypt hash/,
      ],
      ["basic_auth_users: [alice]", /^basic_auth_users: expected a mapping/],
      [
        "tls_sever_config: {}",
        /^tls_sever_config: unknown key \(expected one of tls_server_config, http_server_config, basic_auth_users\)/,
      ],
      [
        "tls_server_config: {cert_file: a, key_file: b, min_versoin: TLS12}",
        /^tls_server_config\.min_versoin: unknown key/,
      ],
      ["tls_server_config: {key_file: b}", /^tls_server_config\.cert_file: required with TLS/],
      [
        "tls_server_config: {cert_file: a, key_file: b, client_auth_type: RequireClientCert}",
        /^tls_server_config\.client_auth_type: expected one of NoClientCert, /,
      ],
      [
        "tls_server_config: {cert_file: a, key_file: b, client_auth_type: RequireAndVerifyClientCert}",
        /^tls_server_config\.client_ca_file: required with client_auth_type RequireAndVerifyClientCert/,
      ],
      [
        "tls_server_config: {cert_file: a, key_file: b, min_version: TLS13, max_version: TLS12}",
        /^tls_server_config\.max_version: TLS12 is below min_version TLS13/,
      ],
      [
        "tls_server_config: {cert_file: a, key_file: b, min_version: '1.2'}",
        /^tls_server_config\.min_version: expected one of TLS10, TLS11, TLS12, TLS13/,
      ],
      [
        "tls_server_config: {cert_file: a, key_file: b, cipher_suites: [TLS_AES_128_GCM_SHA256]}",
        /^tls_server_config\.cipher_suites: not supported/,
      ],
      [
        "tls_server_config: {cert: '-----BEGIN', key_file: b}",
        /^tls_server_config\.cert: inline certificates are not supported; use cert_file/,
      ],
      [
        "http_server_config: {headers: {Server: fsagent}}",
        /^http_server_config\.headers\.Server: not a header the web config may set/,
      ],
      [
        "http_server_config: {headers: {X-Frame-Options: allow-from}}",
        /^http_server_config\.headers\.X-Frame-Options: "allow-from" is not allowed/,
      ],
      ["rate_limit: {interval: 1s}", /^rate_limit: not supported/],
      ["basic_auth_users: {alice: a\nbob: b", /^YAML syntax error/],
    ];
    for (const [text, expected] of cases) assert.match(parseError(text), expected, text);
  });
});

describe("basic authentication against bcrypt hashes", () => {
  const basic = (user: string, password: string) =>
    `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;

  it("admits the right password, refuses a wrong one, an unknown user, none, and garbage", async () => {
    const auth = new BasicAuth({ alice: ALICE });
    assert.equal(auth.enabled, true);
    assert.equal(await auth.check(basic("alice", "wonderland")), null);
    assert.equal(await auth.check(basic("alice", "Wonderland")), "invalid");
    assert.equal(await auth.check(basic("bob", "wonderland")), "invalid");
    assert.equal(await auth.check(undefined), "missing");
    assert.equal(await auth.check(""), "missing");
    assert.equal(await auth.check("Bearer abc"), "malformed");
    assert.equal(
      await auth.check(`Basic ${Buffer.from("no-colon").toString("base64")}`),
      "malformed",
    );
    // A password may hold colons: only the first one separates the user.
    const colon = new BasicAuth({ carol: bcrypt.hashSync("a:b:c", 4) });
    assert.equal(await colon.check(basic("carol", "a:b:c")), null);
  });

  it("checks a header with bcrypt once, then answers from its cache until the users change", async (t) => {
    const compare = t.mock.method(bcrypt, "compare");
    const auth = new BasicAuth({ alice: ALICE });
    for (let i = 0; i < 5; i++) assert.equal(await auth.check(basic("alice", "wonderland")), null);
    for (let i = 0; i < 3; i++) assert.equal(await auth.check(basic("alice", "nope")), "invalid");
    assert.equal(compare.mock.callCount(), 2, "one bcrypt per distinct header");
    // An unknown user costs a bcrypt too, against a dummy hash (no timing tells users apart).
    assert.equal(await auth.check(basic("mallory", "x")), "invalid");
    assert.equal(compare.mock.callCount(), 3);
    assert.match(String(compare.mock.calls[2]?.arguments[1]), /^\$2b\$10\$/);

    auth.setUsers({ alice: bcrypt.hashSync("rabbit", 4) });
    assert.equal(await auth.check(basic("alice", "wonderland")), "invalid", "the old password");
    assert.equal(await auth.check(basic("alice", "rabbit")), null);
    assert.equal(compare.mock.callCount(), 5);
  });

  it("checks at most 2 new credentials at once and lets 32 wait; more are throttled", async (t) => {
    // bcrypt held until released: the test drives when each check ends.
    const releases: (() => void)[] = [];
    const compare = t.mock.method(
      bcrypt,
      "compare",
      (() => new Promise<boolean>((resolve) => releases.push(() => resolve(false)))) as never,
    );
    const auth = new BasicAuth({ alice: ALICE });
    const checks = Array.from({ length: 34 }, (_, i) => auth.check(basic("alice", `guess-${i}`)));
    const settle = async () => {
      for (let i = 0; i < 10; i++) await Promise.resolve();
    };
    await settle();
    assert.equal(compare.mock.callCount(), 2, "two bcrypt checks at once");
    assert.equal(await auth.check(basic("alice", "guess-34")), "throttled", "the 35th");
    for (let done = 0; done < 34; done++) {
      releases.shift()?.();
      await settle();
      assert.ok(releases.length <= 2, `never more than two at once (${releases.length})`);
    }
    assert.deepEqual(new Set(await Promise.all(checks)), new Set(["invalid"]));
    assert.equal(compare.mock.callCount(), 34);
    // A check already answered never waits: the cache answers it.
    assert.equal(await auth.check(basic("alice", "guess-0")), "invalid");
    assert.equal(compare.mock.callCount(), 34);
  });

  it("with no users, it is off", () => {
    assert.equal(new BasicAuth({}).enabled, false);
  });

  it("hash-password's hashes are bcrypt and verify", async () => {
    const hash = await hashPassword("s3cret", 4);
    assert.match(hash, /^\$2b\$04\$/);
    assert.equal(await new BasicAuth({ u: hash }).check(basic("u", "s3cret")), null);
    // The file accepts what it makes.
    assert.deepEqual(parseWebConfig(`basic_auth_users: {u: '${hash}'}`, FILE).users, { u: hash });
  });
});
