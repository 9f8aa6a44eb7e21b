// The documentation holds together: every relative link and image of README.md, docs/*.md and
// bench/README.md points to a file of the repository, every `#anchor` into a Markdown file to one
// of its headings (by GitHub's rules), every docs page is linked from the README, and the README
// stays a front page of at most 350 lines. The checker itself is tested first, on made-up files,
// so that a broken link cannot pass unnoticed.

import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { REPO } from "./support/deploy.js";
import { githubSlug, markdownAnchors, markdownLinks } from "./support/markdown.js";

const MAX_README_LINES = 350;

/** What the checker needs to know about the repository's files. */
interface Files {
  /** "file", "dir", or undefined when nothing is there. */
  kind(absolute: string): "file" | "dir" | undefined;
  read(absolute: string): string;
}

const disk: Files = {
  kind(absolute) {
    if (!existsSync(absolute)) return undefined;
    return statSync(absolute).isDirectory() ? "dir" : "file";
  },
  read: (absolute) => readFileSync(absolute, "utf8"),
};

/** A link that does not resolve, and why. */
interface Broken {
  readonly line: number;
  readonly target: string;
  readonly problem: string;
}

/** The links of `file` (absolute, inside `root`) that do not resolve. */
function brokenLinks(root: string, file: string, files: Files): Broken[] {
  const broken: Broken[] = [];
  const text = files.read(file);
  for (const { target, line, image } of markdownLinks(text)) {
    const fail = (problem: string): void => {
      broken.push({ line, target, problem });
    };
    if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto: ...: not a file here
    if (target.startsWith("/")) {
      fail("not relative (GitHub resolves a leading / differently in pages and files)");
      continue;
    }
    const hash = target.indexOf("#");
    const pathPart = decodeURIComponent(hash < 0 ? target : target.slice(0, hash));
    const anchor = hash < 0 ? undefined : decodeURIComponent(target.slice(hash + 1));
    const resolved = pathPart === "" ? file : path.resolve(path.dirname(file), pathPart);
    const relative = path.relative(root, resolved);
    if (relative.startsWith("..") || path.isAbsolute(relative)) {
      fail("outside the repository");
      continue;
    }
    const kind = files.kind(resolved);
    if (kind === undefined) {
      fail(`no such file or directory: ${relative}`);
      continue;
    }
    if (image && kind !== "file") {
      fail("an image that is a directory");
      continue;
    }
    if (anchor === undefined) continue;
    if (kind !== "file") {
      fail("an anchor into a directory");
    } else if (resolved.endsWith(".md")) {
      if (!markdownAnchors(files.read(resolved)).has(anchor)) {
        fail(`no heading with the anchor #${anchor} in ${relative}`);
      }
    } else if (!/^L\d+(-L\d+)?$/.test(anchor)) {
      fail(`#${anchor} into a file that is not Markdown (only #L<line> works there)`);
    }
  }
  return broken;
}

function describeBroken(file: string, broken: readonly Broken[]): string {
  return broken.map((b) => `${file}:${b.line}: (${b.target}) ${b.problem}`).join("\n");
}

/** A made-up repository in memory: path (relative to /repo) → contents; directories implied. */
function memoryFiles(contents: Record<string, string>): Files {
  const files = new Map(Object.entries(contents).map(([p, text]) => [`/repo/${p}`, text]));
  return {
    kind(absolute) {
      if (files.has(absolute)) return "file";
      const prefix = `${absolute.replace(/\/$/, "")}/`;
      return [...files.keys()].some((p) => p.startsWith(prefix)) ? "dir" : undefined;
    },
    read(absolute) {
      const text = files.get(absolute);
      if (text === undefined) throw new Error(`no file ${absolute}`);
      return text;
    },
  };
}

const DOCUMENTS = [
  "README.md",
  "bench/README.md",
  ...readdirSync(path.join(REPO, "docs"))
    .filter((name) => name.endsWith(".md"))
    .sort()
    .map((name) => `docs/${name}`),
];

describe("the link checker", () => {
  it("makes GitHub's anchors from headings", () => {
    const cases: [string, string][] = [
      ["Call-quality metrics (OTLP)", "call-quality-metrics-otlp"],
      ["`/health` and `/ready`", "health-and-ready"],
      ["The agent's own metrics (`/metrics`)", "the-agents-own-metrics-metrics"],
      ["State: memory or Redis", "state-memory-or-redis"],
      ["Two MOS figures, side by side", "two-mos-figures-side-by-side"],
      [
        "What real FreeSWITCH does, and what the agent makes of it",
        "what-real-freeswitch-does-and-what-the-agent-makes-of-it",
      ],
      [
        "Results (2026-11-25, 2 cores, Node 20.20, load average ~1)",
        "results-2026-11-25-2-cores-node-2020-load-average-1",
      ],
      ["Real FreeSWITCH (`freeswitch`)", "real-freeswitch-freeswitch"],
      ["snake_case and  two spaces", "snake_case-and--two-spaces"],
      ["[A link](x.md) in a heading", "a-link-in-a-heading"],
    ];
    for (const [heading, slug] of cases) assert.equal(githubSlug(heading), slug, heading);
    assert.deepEqual(
      [...markdownAnchors("# Notes\n## Notes\n```\n# not a heading\n```\n## Notes\n")],
      ["notes", "notes-1", "notes-2"],
    );
  });

  it("accepts links that resolve, and ignores code and absolute URLs", () => {
    const files = memoryFiles({
      "README.md": [
        "# Front",
        "[a page](docs/a.md), [its part](docs/a.md#part-two), [here](#front),",
        "![picture](docs/p.png), [a folder](deploy/), [a line](src/x.ts#L3)",
        "[web](https://example.com/missing.md) `[code](missing.md)`",
        "```md",
        "[fenced](missing.md)",
        "```",
        "[ref]: docs/a.md",
      ].join("\n"),
      "docs/a.md": "# A\n\n## Part two\n\n[back](../README.md#front)\n",
      "docs/p.png": "",
      "deploy/x.yaml": "",
      "src/x.ts": "",
    });
    assert.deepEqual(brokenLinks("/repo", "/repo/README.md", files), []);
    assert.deepEqual(brokenLinks("/repo", "/repo/docs/a.md", files), []);
  });

  it("reports a missing file, a missing anchor, a missing image and a link out of the repository", () => {
    const files = memoryFiles({
      "README.md": [
        "# Front",
        "[gone](docs/gone.md)",
        "[no such part](docs/a.md#part-three) [no such anchor here](#back)",
        "![missing](docs/missing.png)",
        "[outside](../elsewhere.md) [rooted](/docs/a.md)",
        "[not markdown](src/x.ts#intro)",
        "[ref]: docs/gone-too.md",
        "a link whose text [wraps onto",
        "the next line](docs/gone-again.md)",
      ].join("\n"),
      "docs/a.md": "# A\n\n## Part two\n",
      "src/x.ts": "",
    });
    const broken = brokenLinks("/repo", "/repo/README.md", files);
    assert.deepEqual(
      broken.map((b) => [b.line, b.target]),
      [
        [2, "docs/gone.md"],
        [3, "docs/a.md#part-three"],
        [3, "#back"],
        [4, "docs/missing.png"],
        [5, "../elsewhere.md"],
        [5, "/docs/a.md"],
        [6, "src/x.ts#intro"],
        [7, "docs/gone-too.md"],
        [9, "docs/gone-again.md"],
      ],
    );
  });
});

describe("the documentation", () => {
  it("has README.md, bench/README.md and the docs pages", () => {
    for (const page of [
      "docs/README.md",
      "docs/configuration.md",
      "docs/metrics.md",
      "docs/deployment.md",
      "docs/replicas.md",
      "docs/status-page.md",
      "docs/operations.md",
      "docs/simulator.md",
      "docs/development.md",
      "docs/freeswitch.md",
    ]) {
      assert.ok(DOCUMENTS.includes(page), page);
    }
  });

  for (const document of DOCUMENTS) {
    it(`${document}: every relative link and image resolves`, () => {
      const broken = brokenLinks(REPO, path.join(REPO, document), disk);
      assert.deepEqual(broken, [], describeBroken(document, broken));
    });
  }

  it(`README.md is a front page of at most ${MAX_README_LINES} lines`, () => {
    const text = readFileSync(path.join(REPO, "README.md"), "utf8");
    const lines = text.endsWith("\n") ? text.slice(0, -1).split("\n") : text.split("\n");
    assert.ok(lines.length <= MAX_README_LINES, `README.md has ${lines.length} lines`);
  });

  it("README.md links every docs page and the status page picture", () => {
    const targets = new Set(
      markdownLinks(readFileSync(path.join(REPO, "README.md"), "utf8")).map(
        (link) => link.target.split("#")[0],
      ),
    );
    for (const document of DOCUMENTS.filter((d) => d.startsWith("docs/"))) {
      assert.ok(targets.has(document), `README.md links ${document}`);
    }
    assert.ok(targets.has("docs/status-page.png"), "the status page picture");
  });
});
