// The status page served at `/` (docs/status-page.md): one self-contained HTML document, inline
// CSS and JS, no CDN, no font, no library, so it works on a box without Internet access. Its
// sources are real files in status-page/ next to this module, so that biome and tsc check them;
// `npm run build` copies them to dist/server/status-page/. They are read and inlined once, when
// the HTTP server starts with the page on (statusPage()), and the page is then a constant: a
// command that serves no page (check-config) never reads them.
//
// Accessibility: states and thresholds are words next to the colours; the legs table sorts with
// buttons in its headers (aria-sort); the charts are SVG with a text summary.

import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const SOURCES = new URL("./status-page/", import.meta.url);

function source(name: string): string {
  const url = new URL(name, SOURCES);
  try {
    return readFileSync(url, "utf8");
  } catch (err) {
    throw new Error(
      `the status page's ${fileURLToPath(url)} cannot be read (npm run build copies ` +
        `src/server/status-page/ next to the compiled status-page.js): ${(err as Error).message}`,
      { cause: err },
    );
  }
}

/** index.html refers to its style and script by file name; the page holds them inline instead. */
function inline(html: string, reference: string, element: string): string {
  const at = html.indexOf(reference);
  if (at === -1 || html.includes(reference, at + 1)) {
    throw new Error(`the status page's index.html must hold ${reference} exactly once`);
  }
  return html.slice(0, at) + element + html.slice(at + reference.length);
}

/** Inline code ends at the first closing tag of its element, wherever it is (a string, a comment). */
function inlinable(name: string, code: string, forbidden: readonly string[]): string {
  const lower = code.toLowerCase();
  const found = forbidden.find((text) => lower.includes(text));
  if (found !== undefined) {
    throw new Error(`the status page's ${name} cannot be inlined: it holds ${found}`);
  }
  return code;
}

function sha256(text: string): string {
  return `'sha256-${createHash("sha256").update(text, "utf8").digest("base64")}'`;
}

/** The page and the headers it is served with. */
export interface StatusPage {
  /** The whole page, UTF-8. */
  readonly html: Buffer;
  readonly headers: Readonly<Record<string, string>>;
}

let page: StatusPage | undefined;

/** The page, read and inlined on first use; throws a one-line error when its files are missing. */
export function statusPage(): StatusPage {
  page ??= buildPage();
  return page;
}

function buildPage(): StatusPage {
  const style = inlinable("status.css", source("status.css"), ["</style"]);
  // "<!--" in a script element changes how the HTML parser looks for its end.
  const script = inlinable("status.js", source("status.js"), ["</script", "<!--"]);
  const html = inline(
    inline(
      source("index.html"),
      '<link rel="stylesheet" href="status.css">',
      `<style>${style}</style>`,
    ),
    '<script type="module" src="status.js"></script>',
    `<script type="module">${script}</script>`,
  );
  return { html: Buffer.from(html, "utf8"), headers: pageHeaders(script, style) };
}

/**
 * Served with the page: a Content-Security-Policy that allows exactly its own inline style and
 * script (by hash) and requests to the agent itself, nothing from anywhere else.
 */
function pageHeaders(script: string, style: string): Readonly<Record<string, string>> {
  return {
    "Content-Security-Policy": [
      "default-src 'none'",
      `script-src ${sha256(script)}`,
      `style-src ${sha256(style)}`,
      "connect-src 'self'",
      "img-src data:",
      "base-uri 'none'",
      "form-action 'none'",
      "frame-ancestors 'none'",
    ].join("; "),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
  };
}
