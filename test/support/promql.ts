// A small PromQL reader for checking dashboards and alert rules against the metrics that really
// exist: it finds every metric selector, every label used in a matcher, a by()/without() clause,
// on()/ignoring()/group_left(), label_replace(), and works out which labels each expression's
// result carries, so that a legend template like {{domain_name}} can be checked too.
//
// It is not a full PromQL parser (operator precedence is ignored: it does not change which
// labels exist), but it refuses what it does not understand rather than letting it pass.
// Grafana macros and variables ($__rate_interval, $fs_instance, ${domain}) are accepted where
// Grafana allows them: inside ranges, strings, and as numbers.

/** Metric name → the labels its series carry in Prometheus. */
export type Catalog = ReadonlyMap<string, ReadonlySet<string>>;

export interface PromqlCheck {
  /** Every problem found, one sentence each; empty when the expression is fine. */
  readonly problems: string[];
  /** Metric names the expression selects. */
  readonly metrics: string[];
  /** Labels of the result, or null when the result is a scalar (or the parse failed). */
  readonly labels: ReadonlySet<string> | null;
}

type TokenKind = "ident" | "number" | "string" | "range" | "punct" | "op";

interface Token {
  readonly kind: TokenKind;
  readonly text: string;
  readonly pos: number;
}

const AGGREGATIONS = new Set([
  "sum",
  "min",
  "max",
  "avg",
  "group",
  "stddev",
  "stdvar",
  "count",
  "count_values",
  "bottomk",
  "topk",
  "quantile",
  "limitk",
  "limit_ratio",
]);
/** Aggregations with a parameter before the vector. */
const WITH_PARAM = new Set([
  "count_values",
  "bottomk",
  "topk",
  "quantile",
  "limitk",
  "limit_ratio",
]);
/** Aggregations whose result keeps the input's labels (they select series, not combine them). */
const SELECTING = new Set(["bottomk", "topk", "limitk", "limit_ratio"]);

/** Functions whose result has the labels of their first vector argument. */
const LABEL_PRESERVING = new Set([
  "abs",
  "absent_over_time",
  "acos",
  "acosh",
  "asin",
  "asinh",
  "atan",
  "atanh",
  "avg_over_time",
  "ceil",
  "changes",
  "clamp",
  "clamp_max",
  "clamp_min",
  "cos",
  "cosh",
  "count_over_time",
  "day_of_month",
  "day_of_week",
  "day_of_year",
  "days_in_month",
  "deg",
  "delta",
  "deriv",
  "exp",
  "floor",
  "holt_winters",
  "double_exponential_smoothing",
  "hour",
  "idelta",
  "increase",
  "irate",
  "last_over_time",
  "ln",
  "log10",
  "log2",
  "mad_over_time",
  "max_over_time",
  "min_over_time",
  "minute",
  "month",
  "predict_linear",
  "present_over_time",
  "quantile_over_time",
  "rad",
  "rate",
  "resets",
  "round",
  "sgn",
  "sin",
  "sinh",
  "sort",
  "sort_desc",
  "sort_by_label",
  "sort_by_label_desc",
  "sqrt",
  "stddev_over_time",
  "stdvar_over_time",
  "sum_over_time",
  "tan",
  "tanh",
  "timestamp",
  "year",
]);
const SCALAR_FUNCTIONS = new Set(["time", "pi", "scalar"]);
/** Functions that only make sense on counters. */
const COUNTER_FUNCTIONS = new Set(["rate", "irate", "increase", "resets"]);
const SET_OPERATORS = new Set(["and", "or", "unless"]);
const BINARY_OPS = new Set(["+", "-", "*", "/", "%", "^", "==", "!=", ">", "<", ">=", "<="]);
const COMPARISONS = new Set(["==", "!=", ">", "<", ">=", "<="]);

function tokenize(text: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i] ?? "";
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === "#") {
      while (i < text.length && text[i] !== "\n") i++;
      continue;
    }
    const start = i;
    if (c === '"' || c === "'" || c === "`") {
      i++;
      let value = "";
      while (i < text.length && text[i] !== c) {
        if (text[i] === "\\" && c !== "`") i++;
        value += text[i] ?? "";
        i++;
      }
      if (i >= text.length) throw new Error(`unterminated string at ${start}`);
      i++;
      out.push({ kind: "string", text: value, pos: start });
      continue;
    }
    if (c === "[") {
      const end = text.indexOf("]", i);
      if (end === -1) throw new Error(`unterminated range at ${start}`);
      out.push({ kind: "range", text: text.slice(i + 1, end).trim(), pos: start });
      i = end + 1;
      continue;
    }
    // A Grafana variable stands for a value: $name, ${name}, ${name:format}, $__interval.
    const variable = /^\$(\{[^}]*\}|\w+)/.exec(text.slice(i));
    if (variable !== null) {
      out.push({ kind: "number", text: variable[0], pos: start });
      i += variable[0].length;
      continue;
    }
    const number = /^(0x[0-9a-fA-F]+|(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?([smhdwy]|ms)*)/.exec(
      text.slice(i),
    );
    if (number !== null && number[0] !== "") {
      out.push({ kind: "number", text: number[0], pos: start });
      i += number[0].length;
      continue;
    }
    const ident = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(text.slice(i));
    if (ident !== null) {
      out.push({ kind: "ident", text: ident[0], pos: start });
      i += ident[0].length;
      continue;
    }
    if ("(){},".includes(c)) {
      out.push({ kind: "punct", text: c, pos: start });
      i++;
      continue;
    }
    const op = /^(==|!=|>=|<=|=~|!~|[-+*/%^<>=@])/.exec(text.slice(i));
    if (op !== null) {
      out.push({ kind: "op", text: op[0], pos: start });
      i += op[0].length;
      continue;
    }
    throw new Error(`unexpected character ${JSON.stringify(c)} at ${start}`);
  }
  return out;
}

/** A value's labels; null = a scalar or a string. */
type Labels = Set<string> | null;

class Parser {
  private i = 0;
  readonly problems: string[] = [];
  readonly metrics: string[] = [];

  constructor(
    private readonly tokens: readonly Token[],
    private readonly catalog: Catalog,
    private readonly counters: ReadonlySet<string> | undefined,
  ) {}

  private peek(offset = 0): Token | undefined {
    return this.tokens[this.i + offset];
  }

  private next(): Token {
    const token = this.tokens[this.i++];
    if (token === undefined) throw new Error("unexpected end of expression");
    return token;
  }

  private is(text: string, kind?: TokenKind): boolean {
    const token = this.peek();
    return (
      token !== undefined && token.text === text && (kind === undefined || token.kind === kind)
    );
  }

  private expect(text: string): void {
    const token = this.next();
    if (token.text !== text) {
      throw new Error(`expected ${JSON.stringify(text)} at ${token.pos}, got ${token.text}`);
    }
  }

  atEnd(): boolean {
    return this.i >= this.tokens.length;
  }

  private problem(message: string): void {
    this.problems.push(message);
  }

  /** Checks that every label is in `have`; `where` says which clause used it. */
  private require(labels: readonly string[], have: Labels, where: string): void {
    if (have === null) {
      this.problem(`${where} applies to a scalar`);
      return;
    }
    for (const label of labels) {
      if (!have.has(label)) {
        this.problem(`${where}: label "${label}" does not exist there (has: ${sorted(have)})`);
      }
    }
  }

  expr(): Labels {
    let left = this.unary();
    for (;;) {
      const token = this.peek();
      if (token === undefined) return left;
      const isOp =
        (token.kind === "op" && BINARY_OPS.has(token.text)) ||
        (token.kind === "ident" && (SET_OPERATORS.has(token.text) || token.text === "atan2"));
      if (!isOp) return left;
      this.next();
      const op = token.text;
      let returnBool = false;
      if (this.is("bool", "ident")) {
        this.next();
        returnBool = true;
      }
      let on: { kind: "on" | "ignoring"; labels: string[] } | null = null;
      let group: { side: "left" | "right"; labels: string[] } | null = null;
      if (this.is("on", "ident") || this.is("ignoring", "ident")) {
        const kind = this.next().text as "on" | "ignoring";
        on = { kind, labels: this.labelList() };
        if (this.is("group_left", "ident") || this.is("group_right", "ident")) {
          const side = this.next().text === "group_left" ? "left" : "right";
          group = { side, labels: this.is("(") ? this.labelList() : [] };
        }
      }
      const right = this.unary();
      left = this.combine(left, right, op, returnBool, on, group);
    }
  }

  private combine(
    left: Labels,
    right: Labels,
    op: string,
    returnBool: boolean,
    on: { kind: "on" | "ignoring"; labels: string[] } | null,
    group: { side: "left" | "right"; labels: string[] } | null,
  ): Labels {
    if (left === null && right === null) return null;
    if (left === null || right === null) {
      if (on !== null) this.problem(`${on.kind}() between a vector and a scalar`);
      return new Set(left ?? right ?? []);
    }
    if (on !== null) {
      if (on.kind === "on") {
        this.require(on.labels, left, `on(${on.labels.join(", ")}) left side`);
        this.require(on.labels, right, `on(${on.labels.join(", ")}) right side`);
      } else {
        this.require(on.labels, union(left, right), `ignoring(${on.labels.join(", ")})`);
      }
    }
    if (group !== null) {
      const other = group.side === "left" ? right : left;
      this.require(group.labels, other, `group_${group.side}(${group.labels.join(", ")})`);
      const base = group.side === "left" ? left : right;
      return union(base, new Set(group.labels));
    }
    if (op === "or") return union(left, right);
    if (SET_OPERATORS.has(op)) return new Set(left);
    if (on?.kind === "on" && !(COMPARISONS.has(op) && !returnBool)) return new Set(on.labels);
    if (on?.kind === "ignoring") return difference(left, new Set(on.labels));
    return new Set(left);
  }

  private unary(): Labels {
    if (this.is("-", "op") || this.is("+", "op")) {
      this.next();
      return this.unary();
    }
    const value = this.primary();
    for (;;) {
      const token = this.peek();
      if (token?.kind === "range") {
        this.next();
        if (value === null) this.problem(`range [${token.text}] applied to a scalar`);
        continue;
      }
      if (token?.kind === "ident" && token.text === "offset") {
        this.next();
        if (this.is("-", "op")) this.next();
        const duration = this.next();
        if (duration.kind !== "number") throw new Error(`expected a duration after offset`);
        continue;
      }
      if (token?.kind === "op" && token.text === "@") {
        this.next();
        const at = this.next();
        if (at.kind === "ident") {
          this.expect("(");
          this.expect(")");
        }
        continue;
      }
      return value;
    }
  }

  private primary(): Labels {
    const token = this.next();
    if (token.kind === "number" || token.kind === "string") return null;
    if (token.text === "(") {
      const inner = this.expr();
      this.expect(")");
      return inner;
    }
    if (token.text === "{") return this.selector(undefined, token.pos);
    if (token.kind !== "ident") throw new Error(`unexpected ${token.text} at ${token.pos}`);
    const name = token.text;
    if (name === "Inf" || name === "NaN" || name === "inf" || name === "nan") return null;
    if (AGGREGATIONS.has(name) && (this.is("(") || this.is("by") || this.is("without"))) {
      return this.aggregation(name);
    }
    if (this.is("(")) return this.call(name);
    return this.selector(name, token.pos);
  }

  private labelList(): string[] {
    this.expect("(");
    const labels: string[] = [];
    while (!this.is(")")) {
      const label = this.next();
      if (label.kind !== "ident" && label.kind !== "string") {
        throw new Error(`expected a label name at ${label.pos}`);
      }
      labels.push(label.text);
      if (this.is(",")) this.next();
    }
    this.expect(")");
    return labels;
  }

  private selector(name: string | undefined, pos: number): Labels {
    const matchers: string[] = [];
    let metric = name;
    if (name === undefined || this.is("{")) {
      if (name !== undefined) this.next();
      while (!this.is("}")) {
        const label = this.next();
        if (label.kind !== "ident" && label.kind !== "string") {
          throw new Error(`expected a label name at ${label.pos}`);
        }
        const op = this.next();
        if (!["=", "!=", "=~", "!~"].includes(op.text)) {
          throw new Error(`expected a matcher operator at ${op.pos}`);
        }
        const value = this.next();
        if (value.kind !== "string") throw new Error(`expected a quoted value at ${value.pos}`);
        if (label.text === "__name__" && op.text === "=") metric = value.text;
        else matchers.push(label.text);
        if (this.is(",")) this.next();
      }
      this.expect("}");
    }
    if (metric === undefined) {
      this.problem(`a selector without a metric name at ${pos}`);
      return new Set();
    }
    this.metrics.push(metric);
    const labels = this.catalog.get(metric);
    if (labels === undefined) {
      this.problem(`unknown metric "${metric}"`);
      return new Set(matchers);
    }
    this.require(matchers, new Set(labels), `${metric}{...}`);
    return new Set(labels);
  }

  private aggregation(op: string): Labels {
    let grouping: { kind: "by" | "without"; labels: string[] } | null = null;
    if (this.is("by") || this.is("without")) {
      grouping = { kind: this.next().text as "by" | "without", labels: this.labelList() };
    }
    this.expect("(");
    let param: string | null = null;
    if (WITH_PARAM.has(op)) {
      const before = this.i;
      this.expr();
      const token = this.tokens[before];
      if (token?.kind === "string") param = token.text;
      this.expect(",");
    }
    const inner = this.expr();
    this.expect(")");
    if (grouping === null && (this.is("by") || this.is("without"))) {
      grouping = { kind: this.next().text as "by" | "without", labels: this.labelList() };
    }
    if (inner === null) {
      this.problem(`${op}() of a scalar`);
      return new Set();
    }
    const extra = op === "count_values" && param !== null ? [param] : [];
    if (grouping !== null) {
      this.require(
        grouping.labels,
        inner,
        `${op} ${grouping.kind} (${grouping.labels.join(", ")})`,
      );
      if (grouping.kind === "by") return new Set([...grouping.labels, ...extra]);
      return new Set([...difference(inner, new Set(grouping.labels)), ...extra]);
    }
    if (SELECTING.has(op)) return new Set(inner);
    return new Set(extra);
  }

  private call(name: string): Labels {
    const selectedBefore = this.metrics.length;
    this.expect("(");
    const args: { labels: Labels; token: Token | undefined }[] = [];
    while (!this.is(")")) {
      const token = this.peek();
      args.push({ labels: this.expr(), token });
      if (this.is(",")) this.next();
      else break;
    }
    this.expect(")");
    if (this.counters !== undefined && COUNTER_FUNCTIONS.has(name)) {
      for (const metric of this.metrics.slice(selectedBefore)) {
        if (this.catalog.has(metric) && !this.counters.has(metric)) {
          this.problem(`${name}() of "${metric}", which is not a counter (read a gauge as is)`);
        }
      }
    }
    const strings = args.map((a) => (a.token?.kind === "string" ? a.token.text : undefined));
    const firstVector = args.find((a) => a.labels !== null)?.labels ?? null;
    if (SCALAR_FUNCTIONS.has(name)) return null;
    if (name === "vector") return new Set();
    if (name === "absent") return new Set();
    if (name === "label_replace") {
      const [dst, , src] = strings.slice(1);
      if (src !== undefined && src !== "") this.require([src], firstVector, `label_replace`);
      return union(firstVector ?? new Set(), new Set(dst === undefined ? [] : [dst]));
    }
    if (name === "label_join") {
      const dst = strings[1];
      const sources = strings.slice(3).filter((s): s is string => s !== undefined);
      this.require(sources, firstVector, "label_join");
      return union(firstVector ?? new Set(), new Set(dst === undefined ? [] : [dst]));
    }
    if (name === "histogram_quantile" || name === "histogram_fraction") {
      const vector = args.at(-1)?.labels ?? null;
      this.require(["le"], vector, name);
      return difference(vector ?? new Set(), new Set(["le"]));
    }
    if (LABEL_PRESERVING.has(name)) {
      if (firstVector === null && args.length > 0) this.problem(`${name}() of a scalar`);
      return new Set(firstVector ?? []);
    }
    this.problem(`unknown function "${name}"`);
    return new Set(firstVector ?? []);
  }
}

function union(a: ReadonlySet<string>, b: ReadonlySet<string>): Set<string> {
  return new Set([...a, ...b]);
}

function difference(a: ReadonlySet<string>, b: ReadonlySet<string>): Set<string> {
  return new Set([...a].filter((x) => !b.has(x)));
}

function sorted(labels: ReadonlySet<string>): string {
  return [...labels].sort().join(", ");
}

/**
 * Checks one PromQL expression against the catalog. With `counters` (the names of counter
 * series), rate(), irate(), increase() and resets() of anything else is a problem too.
 */
export function checkPromql(
  expr: string,
  catalog: Catalog,
  counters?: ReadonlySet<string>,
): PromqlCheck {
  let tokens: Token[];
  try {
    tokens = tokenize(expr);
  } catch (error) {
    return { problems: [`cannot read: ${(error as Error).message}`], metrics: [], labels: null };
  }
  const parser = new Parser(tokens, catalog, counters);
  try {
    const labels = parser.expr();
    if (!parser.atEnd()) throw new Error("unexpected text after the expression");
    return { problems: parser.problems, metrics: parser.metrics, labels };
  } catch (error) {
    return {
      problems: [...parser.problems, `cannot parse: ${(error as Error).message}`],
      metrics: parser.metrics,
      labels: null,
    };
  }
}

/** Words of Go's text/template that stand alone in an action and are no label. */
const TEMPLATE_KEYWORDS = new Set(["end", "else", "break", "continue", "nil"]);

/**
 * Labels a legend/annotation template uses: Grafana `{{label}}`, Prometheus `{{ $labels.x }}`,
 * and `$labels.x` anywhere in an action (e.g. an argument of printf).
 */
export function templateLabels(template: string): string[] {
  // {{ $value }} and other $-variables are not labels, and do not match; nor do {{ end }} and
  // the other keywords.
  const labels: string[] = [];
  for (const action of template.matchAll(/\{\{-?(.*?)-?\}\}/gs)) {
    const body = (action[1] ?? "").trim();
    const bare = /^([a-zA-Z_][a-zA-Z0-9_]*)$/.exec(body)?.[1];
    if (bare !== undefined && !TEMPLATE_KEYWORDS.has(bare)) labels.push(bare);
    for (const use of body.matchAll(/\$labels\.([a-zA-Z_][a-zA-Z0-9_]*)/g))
      labels.push(use[1] ?? "");
  }
  return labels;
}

/**
 * The PromQL an alert template runs with `query`: a string literal given to it, or the format of
 * the printf whose result is piped to it, each %q/%s/%v made a placeholder value ("x"), so the
 * expression can be checked against the catalog like the rule's own.
 */
export function templateQueries(template: string): string[] {
  const queries: string[] = [];
  for (const action of template.matchAll(/\{\{-?(.*?)-?\}\}/gs)) {
    const body = action[1] ?? "";
    if (!/\bquery\b/.test(body)) continue;
    const literal = /(?:printf|query)\s+"((?:[^"\\]|\\.)*)"/.exec(body)?.[1];
    if (literal === undefined) continue;
    queries.push(
      literal
        .replace(/\\(["\\])/g, "$1")
        .replace(/%q/g, '"x"')
        .replace(/%[sv]/g, "x"),
    );
  }
  return queries;
}

/**
 * Checks a Grafana Prometheus variable query: label_values(selector, label), label_values(label),
 * query_result(expr) or metrics(regex).
 */
export function checkVariableQuery(query: string, catalog: Catalog): string[] {
  const text = query.trim();
  const labelValues = /^label_values\(\s*(.*?)\s*,\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\)$/s.exec(text);
  if (labelValues !== null) {
    const check = checkPromql(labelValues[1] ?? "", catalog);
    const label = labelValues[2] ?? "";
    const problems = [...check.problems];
    if (check.labels !== null && !check.labels.has(label)) {
      problems.push(`label_values: label "${label}" does not exist on ${labelValues[1]}`);
    }
    return problems;
  }
  const bare = /^label_values\(\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\)$/.exec(text);
  if (bare !== null) {
    const label = bare[1] ?? "";
    const known = [...catalog.values()].some((labels) => labels.has(label));
    return known ? [] : [`label_values: no metric has the label "${label}"`];
  }
  const queryResult = /^query_result\((.*)\)$/s.exec(text);
  if (queryResult !== null) return checkPromql(queryResult[1] ?? "", catalog).problems;
  if (/^metrics\(.*\)$/s.test(text)) return [];
  return [`unknown variable query form: ${text}`];
}
