// The status page behind the web config file (docs/security.md) in a real browser: Debian's
// chromium driven by playwright-core, as in status-page.test.ts, against the real agent connected
// to the simulator, with http.web_config_file set through FSAGENT_HTTP_WEB_CONFIG_FILE to a file
// this test writes: HTTPS with a certificate of a throwaway CA (test/support/pki.ts, openssl),
// one basic-auth user (a bcrypt hash of cost 4) and `X-Frame-Options: deny`.
//
// Chromium trusts exactly the server's key (--ignore-certificate-errors-spki-list with the
// SHA-256 of the key's SubjectPublicKeyInfo), never every certificate; node's TLS client checks
// separately that the served certificate is the generated one and verifies against the CA.
//
// With the right credentials the page loads over HTTPS, its script polls /api/status and shows
// the calls the test started, with X-Frame-Options and no console error; without credentials,
// or with a wrong password, the page and /api/status answer 401 and show nothing; /health stays
// open (http.auth_exempt's default), over HTTPS only.

import assert from "node:assert/strict";
import { createHash, createPublicKey, X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { connect, type PeerCertificate } from "node:tls";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { loadConfig } from "../../src/config/load.js";
import { hashPassword } from "../../src/server/web-config/basic-auth.js";
import { launchChromium } from "../support/chromium.js";
import { E2eHarness, FS_INSTANCE } from "../support/e2e.js";
import { makePki, type Pki } from "../support/pki.js";

const USER = "ops";
const PASSWORD = "correct horse battery staple";

let pki: Pki | undefined;
let dir: string | undefined;
let h: E2eHarness | undefined;
let browser: Browser | undefined;
let base = "";
let port = 0;

/** The base64 SHA-256 of a key's DER SubjectPublicKeyInfo: what chromium's SPKI list holds. */
function spkiHash(keyPem: Buffer): string {
  const der = createPublicKey(keyPem).export({ type: "spki", format: "der" });
  return createHash("sha256").update(der).digest("base64");
}

async function newPage(credentials?: {
  username: string;
  password: string;
}): Promise<{ context: BrowserContext; page: Page; problems: string[] }> {
  assert.ok(browser);
  const context = await browser.newContext(
    credentials === undefined ? {} : { httpCredentials: credentials },
  );
  const page = await context.newPage();
  const problems: string[] = [];
  page.on("console", (m) => {
    if (m.type() === "error" || m.type() === "warning") problems.push(`${m.type()}: ${m.text()}`);
  });
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.on("requestfailed", (r) => problems.push(`request failed: ${r.url()}`));
  return { context, page, problems };
}

describe("the status page behind TLS and basic auth, in chromium", () => {
  before(async () => {
    pki = makePki();
    dir = mkdtempSync(path.join(tmpdir(), "fsagent-web-"));
    const webConfig = path.join(dir, "web.yml");
    writeFileSync(
      webConfig,
      [
        "tls_server_config:",
        `  cert_file: ${JSON.stringify(pki.serverCert)}`,
        `  key_file: ${JSON.stringify(pki.serverKey)}`,
        "basic_auth_users:",
        `  ${USER}: ${JSON.stringify(await hashPassword(PASSWORD, 4))}`,
        "http_server_config:",
        "  headers:",
        "    X-Frame-Options: deny",
        "",
      ].join("\n"),
    );
    h = await E2eHarness.start({ statusSampleMs: 500, connect: false });
    // The http section as the configuration loader makes it from the environment variable.
    const { http } = loadConfig({
      env: { FSAGENT_HTTP_WEB_CONFIG_FILE: webConfig },
      cwd: dir,
      requireInstances: false,
    });
    assert.equal(http.webConfigFile, webConfig);
    h.config = { ...h.config, http: { ...http, host: "127.0.0.1", port: 0 } };
    await h.startAgent();
    base = h.current.url ?? "";
    port = Number(new URL(base).port);
    assert.match(base, /^https:\/\/127\.0\.0\.1:\d+$/);
    browser = await launchChromium([
      `--ignore-certificate-errors-spki-list=${spkiHash(readFileSync(pki.serverKey))}`,
    ]);
  });

  after(async () => {
    await browser?.close();
    await h?.close();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    if (pki !== undefined) rmSync(pki.dir, { recursive: true, force: true });
  });

  it("serves the generated certificate, which verifies against the CA", async () => {
    assert.ok(pki);
    const ca = readFileSync(pki.caCert);
    const peer = await new Promise<{ authorized: boolean; cert: PeerCertificate }>(
      (resolve, reject) => {
        const socket = connect({ host: "127.0.0.1", port, ca, servername: "localhost" }, () => {
          resolve({ authorized: socket.authorized, cert: socket.getPeerCertificate() });
          socket.end();
        });
        socket.on("error", reject);
      },
    );
    assert.equal(peer.authorized, true, "the chain verifies against the CA, for 127.0.0.1");
    const generated = new X509Certificate(readFileSync(pki.serverCert));
    assert.equal(peer.cert.fingerprint256, generated.fingerprint256);
  });

  it("with the right credentials: the page loads over HTTPS, polls /api/status, shows the calls", async () => {
    assert.ok(h);
    // Two calls before the page loads, one after: the page must show it without a reload.
    const first = h.generator.startCall({ bridged: false, domain: "tenant-a.example" });
    const second = h.generator.startCall({ bridged: false, domain: "tenant-b.example" });
    await h.waitProcessed("CHANNEL_CREATE", 2);

    const { context, page, problems } = await newPage({ username: USER, password: PASSWORD });
    const polls: number[] = [];
    page.on("response", (r) => {
      if (new URL(r.url()).pathname === "/api/status") polls.push(r.status());
    });
    const response = await page.goto(`${base}/`);
    assert.ok(response);
    assert.equal(response.status(), 200);
    assert.equal(new URL(response.url()).protocol, "https:");
    assert.equal(response.headers()["x-frame-options"], "deny");
    const tls = await response.securityDetails();
    assert.equal(tls?.subjectName, "server", "the certificate of CN=server");
    assert.equal(tls?.issuer, "fsagent test CA");
    assert.match(tls?.protocol ?? "", /^TLS 1\.[23]$/);
    await page.evaluate("window.loadedOnce = true");

    const card = page.locator(`#instances li[data-instance="${FS_INSTANCE}"]`);
    await card.locator('[data-state="connected"]').waitFor({ timeout: 5000 });
    for (const call of [first, second]) {
      await page
        .locator(`#active tbody tr[data-channel-id="${call.aLeg.uuid}"]`)
        .waitFor({ timeout: 5000 });
    }
    const third = h.generator.startCall({ bridged: false, domain: "tenant-c.example" });
    const row = page.locator(`#active tbody tr[data-channel-id="${third.aLeg.uuid}"]`);
    await row.waitFor({ timeout: 5000 });
    assert.equal(await row.locator('td[data-col="domain"]').textContent(), "tenant-c.example");
    assert.equal(await page.evaluate("window.loadedOnce"), true, "the same document: no reload");

    assert.ok(polls.length >= 2, `the page polled /api/status (${polls.join(", ")})`);
    assert.deepEqual(
      polls.filter((s) => s !== 200),
      [],
      "every poll answered 200",
    );
    assert.equal(await page.locator("#conn").textContent(), "", "no 'agent does not answer'");
    assert.deepEqual(problems, [], "no console error or warning");
    await context.close();
  });

  it("without credentials: the page answers 401; /health is open, /api/status is not", async () => {
    const { context, page } = await newPage();
    // Headless chromium has no login prompt: it cancels the challenge, so the navigation fails
    // (net::ERR_INVALID_AUTH_CREDENTIALS) after the 401 arrived.
    const refused = page.waitForResponse((r) => r.url() === `${base}/`);
    await assert.rejects(page.goto(`${base}/`), /ERR_INVALID_AUTH_CREDENTIALS/);
    const response = await refused;
    assert.equal(response.status(), 401);
    assert.match(response.headers()["www-authenticate"] ?? "", /^Basic realm=/);
    assert.equal(response.headers()["x-frame-options"], "deny", "on every response");
    // What the browser shows instead: its error page, not the status page.
    await page.waitForURL(/^chrome-error:/);
    assert.equal(await page.locator("#instances").count(), 0, "not the status page");

    // http.auth_exempt's default: /health needs no credentials, over HTTPS.
    const health = await page.goto(`${base}/health`);
    assert.ok(health);
    assert.equal(health.status(), 200);
    assert.equal(health.headers()["x-frame-options"], "deny");
    assert.equal(typeof JSON.parse((await page.locator("body").textContent()) ?? ""), "object");
    // /api/status from that document, without credentials ("omit": the default would wait on a
    // login prompt headless chromium never shows).
    const api = (await page.evaluate(
      "fetch('/api/status', { credentials: 'omit' }).then(async (r) => [r.status, await r.text()])",
    )) as [number, string];
    assert.deepEqual(api, [401, JSON.stringify({ error: "unauthorized" })], "no status data");
    await context.close();
    // The same port in plain HTTP: the handshake fails, nothing is answered.
    await assert.rejects(fetch(`http://127.0.0.1:${port}/health`));
  });

  for (const [what, credentials] of [
    ["a wrong password", { username: USER, password: `${PASSWORD}!` }],
    ["an unknown user", { username: "root", password: PASSWORD }],
  ] as const) {
    it(`with ${what}: the page and /api/status answer 401 and show nothing`, async () => {
      const { context, page } = await newPage(credentials);
      const response = await page.goto(`${base}/`);
      assert.ok(response);
      assert.equal(response.status(), 401);
      assert.match(response.headers()["www-authenticate"] ?? "", /^Basic realm=/);
      assert.equal(await page.locator("#instances").count(), 0, "not the status page");
      assert.deepEqual(JSON.parse((await page.locator("body").textContent()) ?? ""), {
        error: "unauthorized",
      });
      const api = (await page.evaluate(
        "fetch('/api/status').then(async (r) => [r.status, await r.text()])",
      )) as [number, string];
      assert.deepEqual(api, [401, JSON.stringify({ error: "unauthorized" })], "no status data");
      await context.close();
    });
  }
});
