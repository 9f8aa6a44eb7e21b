// Just enough Markdown for the documentation tests: the headings of a file and the anchors
// GitHub gives them, the links and images outside code, and the rows of pipe tables. Pure
// functions of the text; the tests read the files.

/** A link or image: its target as written, and the 1-based line it is on. */
export interface MarkdownLink {
  readonly target: string;
  readonly line: number;
  readonly image: boolean;
}

/** The lines of `text` outside fenced code blocks, with their 1-based numbers. */
export function proseLines(text: string): { readonly line: number; readonly text: string }[] {
  const out: { line: number; text: string }[] = [];
  let fence: string | null = null;
  for (const [index, line] of text.split("\n").entries()) {
    const marker = /^ {0,3}(`{3,}|~{3,})/.exec(line)?.[1];
    if (fence === null && marker !== undefined) {
      fence = marker;
      continue;
    }
    if (fence !== null) {
      // A fence closes with at least as many of the same character, and nothing else.
      if (
        marker !== undefined &&
        marker[0] === fence[0] &&
        marker.length >= fence.length &&
        line.trim() === marker
      ) {
        fence = null;
      }
      continue;
    }
    out.push({ line: index + 1, text: line });
  }
  return out;
}

/** `line` without its inline code spans (a link written in backticks is not a link). */
function withoutCodeSpans(line: string): string {
  return line.replace(/(`+)[^`]*?\1/g, (span) => " ".repeat(span.length));
}

/** Inline links and images (`[text](target)`, `![alt](target)`) and reference definitions. */
export function markdownLinks(text: string): MarkdownLink[] {
  const links: MarkdownLink[] = [];
  // The prose with code blanked out, line for line, so that a link whose text wraps onto the
  // next line is still one match and every match still has its line number.
  const prose = new Array<string>(text.split("\n").length).fill("");
  for (const { line, text: raw } of proseLines(text)) prose[line - 1] = withoutCodeSpans(raw);
  const joined = prose.join("\n");
  const lineAt = (index: number): number => joined.slice(0, index).split("\n").length;
  // The text may hold code spans (blanked above) and line breaks, but no nested brackets.
  for (const match of joined.matchAll(/(!?)\[[^\]]*\]\(\s*<?([^\s)>]+)>?(?:\s+"[^"]*")?\s*\)/g)) {
    const at = match.index + match[0].indexOf("(");
    links.push({ target: match[2] ?? "", line: lineAt(at), image: match[1] === "!" });
  }
  for (const [index, line] of prose.entries()) {
    const definition = /^ {0,3}\[[^\]]+\]:\s*<?([^\s>]+)>?/.exec(line);
    if (definition?.[1] !== undefined) {
      links.push({ target: definition[1], line: index + 1, image: false });
    }
    for (const match of line.matchAll(/<(?:img|a)\s[^>]*?(?:src|href)="([^"]+)"/gi)) {
      links.push({ target: match[1] ?? "", line: index + 1, image: /^<img/i.test(match[0]) });
    }
  }
  return links.sort((a, b) => a.line - b.line);
}

/** The text GitHub renders for a heading's source: no code ticks, links reduced to their text. */
function renderedHeading(source: string): string {
  return source
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, "$1")
    .replace(/`/g, "")
    .replace(/<[^>]+>/g, "")
    .trim();
}

/**
 * GitHub's anchor for a heading text (github-slugger): lowercase; every character that is not a
 * letter, mark, number, connector punctuation (`_`), space or hyphen removed; each space a hyphen.
 */
export function githubSlug(heading: string): string {
  return renderedHeading(heading)
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, "")
    .replace(/ /g, "-");
}

/** The ATX headings of a file outside code blocks, in order. */
export function markdownHeadings(text: string): string[] {
  const headings: string[] = [];
  for (const { text: line } of proseLines(text)) {
    const match = /^ {0,3}#{1,6}(?:\s+(.*?))?(?:\s+#+)?\s*$/.exec(line);
    if (match) headings.push(match[1] ?? "");
  }
  return headings;
}

/** Every anchor a file's headings define; a repeated one gets `-1`, `-2`... as on GitHub. */
export function markdownAnchors(text: string): Set<string> {
  const occurrences = new Map<string, number>();
  for (const heading of markdownHeadings(text)) {
    const base = githubSlug(heading);
    let slug = base;
    let n = occurrences.get(base);
    if (n !== undefined) {
      do {
        n += 1;
        slug = `${base}-${n}`;
      } while (occurrences.has(slug));
      occurrences.set(base, n);
    }
    occurrences.set(slug, 0);
  }
  return new Set(occurrences.keys());
}

/** The cells of a table row (`| a | b |`), trimmed; undefined for a line that is not one. */
export function tableCells(line: string): string[] | undefined {
  const trimmed = line.trim();
  if (!trimmed.startsWith("|") || !trimmed.endsWith("|") || trimmed.length < 2) return undefined;
  // Split on pipes that are not escaped (`\|` is a literal pipe inside a cell).
  const cells: string[] = [];
  let cell = "";
  for (let i = 1; i < trimmed.length - 1; i++) {
    const c = trimmed[i];
    if (c === "\\" && trimmed[i + 1] === "|") {
      cell += "|";
      i++;
    } else if (c === "|") {
      cells.push(cell.trim());
      cell = "";
    } else {
      cell += c;
    }
  }
  cells.push(cell.trim());
  return cells;
}

/** A pipe table: its header cells and its body rows (the separator row left out). */
export interface MarkdownTable {
  readonly header: readonly string[];
  readonly rows: readonly (readonly string[])[];
  /** The heading the table is under ("" before the first heading). */
  readonly section: string;
}

export function markdownTables(text: string): MarkdownTable[] {
  const tables: MarkdownTable[] = [];
  let section = "";
  let current: { header: string[]; rows: string[][]; section: string } | null = null;
  for (const { text: line } of proseLines(text)) {
    const heading = /^ {0,3}#{1,6}\s+(.*?)\s*$/.exec(line);
    if (heading) section = heading[1] ?? "";
    const cells = tableCells(line);
    if (cells === undefined) {
      current = null;
      continue;
    }
    if (current === null) {
      current = { header: cells, rows: [], section };
      tables.push(current);
    } else if (!cells.every((c) => /^:?-+:?$/.test(c))) {
      current.rows.push(cells);
    }
  }
  return tables;
}

/** The contents of the code spans of a table cell or a line, in order. */
export function codeSpans(text: string): string[] {
  return [...text.matchAll(/(`+)(.*?)\1/g)].map((m) => (m[2] ?? "").trim());
}
