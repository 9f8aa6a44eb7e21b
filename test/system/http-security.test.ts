// Issue 22 against the real server (the built CLI): the exporter-toolkit web config. Basic auth on
// every endpoint but the exempt ones; HTTPS with a CA made for the run (openssl), a client that
// trusts it and one that does not; client certificates; certificates and users replaced on disk
// while running; the file's mistakes at start-up; no secret in any log line or /api/status.

import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { copyFileSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import bcrypt from "bcryptjs";
import { CliProcess, runCli, tempDir } from "../support/child.js";
import { type HttpReply, httpsRequest, pollUntil } from "../support/net.js";
import { makePki, type Pki } from "../support/pki.js";
import { waitFor } from "../support/wait.js";

const PASSWORD = "correct horse battery staple";
const HASH = bcrypt.hashSync(PASSWORD, 4);
// Nothing listens there: the HTTP side is what is tested.
const INSTANCES = JSON.stringify([
  { name: "fs1", host: "127.0.0.1", port: 1, password: "esl-secret-1" },
]);

interface Ask {
  readonly auth?: string;
  /** Files: the CA to trust, a client certificate and its key. */
  readonly ca?: string;
  readonly cert?: string;
  readonly key?: string;
}

/** One GET (httpsRequest) with the files read; rejects with the TLS or socket error. */
function get(url: string, ask: Ask = {}): Promise<HttpReply> {
  const file = (name: string | undefined) => (name === undefined ? undefined : readFileSync(name));
  return httpsRequest(url, {
    timeoutMs: 5_000,
    authorization: ask.auth,
    ca: file(ask.ca),
    cert: file(ask.cert),
    key: file(ask.key),
  });
}

const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;

describe("the agent's endpoints behind the web config (real server)", () => {
  let dir: { dir: string; remove(): void };
  let pki: Pki;
  let other: Pki;
  const agents: CliProcess[] = [];

  before(() => {
    dir = tempDir();
    pki = makePki();
    other = makePki();
  });

  after(async () => {
    for (const agent of agents) await agent.kill();
    dir?.remove();
    for (const p of [pki, other])
      if (p !== undefined) rmSync(p.dir, { recursive: true, force: true });
  });

  async function start(
    web: string,
    env: Record<string, string> = {},
  ): Promise<{ url: string; agent: CliProcess }> {
    const file = join(dir.dir, `web-${agents.length}.yml`);
    writeFileSync(file, web);
    const agent = new CliProcess([], {
      cwd: dir.dir,
      env: {
        FSAGENT_FREESWITCH_INSTANCES: INSTANCES,
        FSAGENT_HTTP_HOST: "127.0.0.1",
        FSAGENT_HTTP_PORT: "0",
        FSAGENT_OTEL_ENABLED: "false",
        FSAGENT_HTTP_WEB_CONFIG_FILE: file,
        ...env,
      },
    });
    agents.push(agent);
    return { url: await agent.jsonHttpUrl(10_000), agent };
  }

  it("basic auth: 401 without or with wrong credentials on every endpoint, 200 with the right ones; /health and /ready open", async () => {
    const { url, agent } = await start(
      `basic_auth_users:\n  prometheus: '${HASH}'\nhttp_server_config:\n  headers:\n    X-Frame-Options: deny\n`,
    );
    assert.match(url, /^http:/, "no TLS configured: plain HTTP");
    for (const path of ["/metrics", "/", "/api/status", "/no-such-page"]) {
      const none = await get(url + path);
      assert.equal(none.status, 401, `${path} without credentials`);
      assert.equal(none.headers["www-authenticate"], 'Basic realm="fsagent", charset="UTF-8"');
      assert.equal(none.headers["x-frame-options"], "deny");
      assert.doesNotMatch(none.body, /fsagent_|fs1/, `${path}: nothing of the agent's data`);
      const wrong = await get(url + path, { auth: basic("prometheus", "battery") });
      assert.equal(wrong.status, 401, `${path} with a wrong password`);
      const stranger = await get(url + path, { auth: basic("mallory", PASSWORD) });
      assert.equal(stranger.status, 401, `${path} with an unknown user`);
      const right = await get(url + path, { auth: basic("prometheus", PASSWORD) });
      assert.equal(
        right.status,
        path === "/no-such-page" ? 404 : 200,
        `${path} with the right ones`,
      );
    }
    for (const path of ["/health", "/ready"]) {
      const open = await get(url + path);
      assert.notEqual(open.status, 401, `${path} is exempt`);
      assert.match(open.body, /"status"|"ready"/);
    }
    const metrics = await get(`${url}/metrics`, { auth: basic("prometheus", PASSWORD) });
    // 4 paths each: none (missing), wrong and stranger (invalid).
    assert.match(metrics.body, /fsagent_http_auth_failures_total\{reason="missing"\} 4\n/);
    assert.match(metrics.body, /fsagent_http_auth_failures_total\{reason="invalid"\} 8\n/);
    const status = await get(`${url}/api/status`, { auth: basic("prometheus", PASSWORD) });
    const logs = agent.stdout + agent.stderr;
    for (const text of [status.body, metrics.body, logs]) {
      for (const secret of [PASSWORD, HASH, "battery", "esl-secret-1", "mallory"]) {
        assert.ok(!text.includes(secret), `a secret (${secret.slice(0, 6)}…) leaked`);
      }
    }
    const refused = agent.jsonLines().filter((l) => /refused \(401\)/.test(String(l.msg)));
    assert.ok(refused.length >= 2, "refusals are logged");
    assert.ok(refused.length <= 3, `rate-limited: ${refused.length} lines for 12 refusals`);
    for (const line of refused)
      assert.deepEqual(
        Object.keys(line).filter((k) => /user|auth|pass/i.test(k)),
        [],
      );
  });

  it("http.auth_exempt: none protects /health and /ready too", async () => {
    const { url } = await start(`basic_auth_users:\n  prometheus: '${HASH}'\n`, {
      FSAGENT_HTTP_AUTH_EXEMPT: "none",
    });
    assert.equal((await get(`${url}/health`)).status, 401);
    assert.equal((await get(`${url}/ready`)).status, 401);
    assert.equal((await get(`${url}/health`, { auth: basic("prometheus", PASSWORD) })).status, 200);
  });

  it("TLS: HTTPS only, verified by a client trusting the CA, refused by one that does not", async () => {
    const { url } = await start(
      `tls_server_config:\n  cert_file: ${pki.serverCert}\n  key_file: ${pki.serverKey}\n`,
    );
    assert.match(url, /^https:\/\/127\.0\.0\.1:/);
    const trusted = await get(`${url}/metrics`, { ca: pki.caCert });
    assert.equal(trusted.status, 200);
    assert.equal(
      trusted.peer?.fingerprint256,
      new X509Certificate(readFileSync(pki.serverCert)).fingerprint256,
    );
    await assert.rejects(get(`${url}/metrics`), /self[- ]signed|unable to (get|verify)/i);
    await assert.rejects(
      get(`${url}/metrics`, { ca: other.caCert }),
      /unable to (get|verify)|self[- ]signed/i,
    );
    // Plain HTTP on the TLS port gets no answer.
    await assert.rejects(get(`${url.replace("https:", "http:")}/metrics`));
  });

  it("mTLS (RequireAndVerifyClientCert): no certificate, or one of another CA, no connection", async () => {
    const { url } = await start(
      [
        "tls_server_config:",
        `  cert_file: ${pki.serverCert}`,
        `  key_file: ${pki.serverKey}`,
        `  client_ca_file: ${pki.caCert}`,
        "  client_auth_type: RequireAndVerifyClientCert",
      ].join("\n"),
    );
    const ok = await get(`${url}/metrics`, {
      ca: pki.caCert,
      cert: pki.clientCert,
      key: pki.clientKey,
    });
    assert.equal(ok.status, 200);
    await assert.rejects(get(`${url}/metrics`, { ca: pki.caCert }));
    await assert.rejects(
      get(`${url}/health`, { ca: pki.caCert, cert: other.clientCert, key: other.clientKey }),
    );
  });

  it("certificates and users replaced on disk apply while running; a broken replacement keeps the last good one", async () => {
    const certFile = join(dir.dir, "live.crt");
    const keyFile = join(dir.dir, "live.key");
    copyFileSync(pki.serverCert, certFile);
    copyFileSync(pki.serverKey, keyFile);
    const webText = (users: string) =>
      `tls_server_config:\n  cert_file: live.crt\n  key_file: live.key\nbasic_auth_users:\n${users}`;
    const { url, agent } = await start(webText(`  prometheus: '${HASH}'\n`));
    const fileOf = agents.length - 1;
    const webFile = join(dir.dir, `web-${fileOf}.yml`);
    const served = async (ca: string) => (await get(`${url}/health`, { ca })).peer?.fingerprint256;
    assert.equal(
      await served(pki.caCert),
      new X509Certificate(readFileSync(pki.serverCert)).fingerprint256,
    );

    // Rotated as a Secret volume is: new files, renamed into place.
    copyFileSync(other.serverCert, `${certFile}.new`);
    copyFileSync(other.serverKey, `${keyFile}.new`);
    renameSync(`${keyFile}.new`, keyFile);
    renameSync(`${certFile}.new`, certFile);
    const rotated = new X509Certificate(readFileSync(other.serverCert)).fingerprint256;
    await pollUntil(
      () => served(other.caCert).catch(() => undefined),
      (fingerprint) => fingerprint === rotated,
      "the new certificate served",
      10_000,
    );
    // A new user, in the same file.
    const newHash = bcrypt.hashSync("second", 4);
    writeFileSync(webFile, webText(`  prometheus: '${HASH}'\n  grafana: '${newHash}'\n`));
    await pollUntil(
      async () =>
        (await get(`${url}/metrics`, { ca: other.caCert, auth: basic("grafana", "second") }))
          .status,
      (status) => status === 200,
      "the new user admitted",
      10_000,
    );

    // A key that does not match the certificate: refused, the last good pair stays.
    copyFileSync(pki.serverKey, keyFile);
    await waitFor(
      () =>
        /cannot reload the web config .*is not the key of the certificate.*keeping the last good one/.test(
          agent.stdout,
        ),
      "the refusal logged",
      10_000,
    );
    assert.equal(await served(other.caCert), rotated);
    assert.equal(
      (await get(`${url}/metrics`, { ca: other.caCert, auth: basic("grafana", "second") })).status,
      200,
    );
    const warnings = agent.stdout
      .split("\n")
      .filter((l) => l.includes("cannot reload the web config"));
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    assert.equal(
      agent.stdout.split("\n").filter((l) => l.includes("cannot reload the web config")).length,
      warnings.length,
      "said once, not at every check",
    );
    assert.ok(!agent.stdout.includes("BEGIN"), "no key or certificate text in the log");
  });

  it("every mistake in the file: one line naming the key and the file, exit 2", async () => {
    const cases: [string, RegExp][] = [
      [
        `basic_auth_users:\n  prometheus: ${PASSWORD}\n`,
        /basic_auth_users\.prometheus: expected a bcrypt hash/,
      ],
      [
        `tls_server_config:\n  cert_file: ${join(dir.dir, "none.crt")}\n  key_file: ${pki.serverKey}\n`,
        /tls_server_config\.cert_file: cannot read .*none\.crt: no such file/,
      ],
      [
        `tls_server_config:\n  cert_file: ${pki.serverCert}\n  key_file: ${other.serverKey}\n`,
        /tls_server_config\.key_file: .* is not the key of the certificate in /,
      ],
      [
        `tls_server_config:\n  cert_file: ${pki.serverCert}\n  key_file: ${pki.serverKey}\n  verify: true\n`,
        /tls_server_config\.verify: unknown key/,
      ],
    ];
    for (const [text, expected] of cases) {
      const file = join(dir.dir, "bad.yml");
      writeFileSync(file, text);
      for (const command of [["check-config"], ["run"]]) {
        const result = await runCli(command, {
          cwd: dir.dir,
          env: { FSAGENT_FREESWITCH_INSTANCES: INSTANCES, FSAGENT_HTTP_WEB_CONFIG_FILE: file },
        });
        assert.equal(result.code, 2, `${command[0]}: ${result.stderr}`);
        const lines = result.stderr.trimEnd().split("\n");
        assert.equal(lines.length, 1, result.stderr);
        assert.match(
          lines[0] ?? "",
          /^config error: FSAGENT_HTTP_WEB_CONFIG_FILE = ".*bad\.yml" \(env\): /,
        );
        assert.match(lines[0] ?? "", expected);
        assert.ok(!result.stderr.includes(PASSWORD), "the plain-text password is not echoed");
      }
    }
  });

  it("check-config shows the file's settings, hashes masked", async () => {
    const file = join(dir.dir, "shown.yml");
    writeFileSync(
      file,
      `tls_server_config:\n  cert_file: ${pki.serverCert}\n  key_file: ${pki.serverKey}\nbasic_auth_users:\n  prometheus: '${HASH}'\n`,
    );
    const result = await runCli(["check-config"], {
      cwd: dir.dir,
      env: { FSAGENT_FREESWITCH_INSTANCES: INSTANCES, FSAGENT_HTTP_WEB_CONFIG_FILE: file },
    });
    assert.equal(result.code, 0, result.stderr);
    assert.match(
      result.stdout,
      /# {3}TLS: cert_file ".*server\.crt", key_file ".*server\.key", client_ca_file "", client_auth_type NoClientCert, min_version TLS12/,
    );
    assert.match(result.stdout, /# {3}basic auth users: "prometheus": \*\*\*/);
    assert.match(result.stdout, /web_config_file: .*shown\.yml/);
    assert.ok(!result.stdout.includes(HASH));
  });
});
