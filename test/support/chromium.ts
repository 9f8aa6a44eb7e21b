// Debian's chromium for the browser tests, driven by playwright-core (never a downloaded
// browser). Missing, the test fails with one line saying how to get it: in CI it must run.

import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { type Browser, chromium } from "playwright-core";

export const CHROMIUM = process.env.FSAGENT_TEST_CHROMIUM ?? "/usr/bin/chromium";

/** Headless, quiet (no background traffic), with the test's own extra flags. */
export function launchChromium(extraArgs: readonly string[] = []): Promise<Browser> {
  assert.ok(
    existsSync(CHROMIUM),
    `the status page tests need Debian's chromium at ${CHROMIUM} (apt-get install chromium; ` +
      "bash .ci/run installs it). They never download a browser.",
  );
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      ...extraArgs,
    ],
  });
}
