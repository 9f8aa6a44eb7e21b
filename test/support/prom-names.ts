// How an OTLP metric is named and labelled once the OpenTelemetry Collector's `prometheus`
// exporter (collector-contrib exporter/prometheusexporter) serves it and Prometheus scrapes it.
// This is the one place those rules are written down; the deploy tests derive every Prometheus
// name the dashboards may use by running the agent's real instruments through it.
//
// Sources (read, not guessed):
// - prometheus/otlptranslator metric_namer.go, unit_namer.go, label_namer.go: the translation the
//   exporter uses since it moved to otlptranslator (MetricNamer.Build, LabelNamer.Build);
// - collector-contrib pkg/translator/prometheus/normalize_name.go: the same rules in the versions
//   before that move (the pkg.translator.prometheus.NormalizeName gate, beta = on by default);
// - collector-contrib exporter/prometheusexporter collector.go (getMetricMetadata: attribute
//   labels, otel_scope_name/otel_scope_version, job and instance from the resource), factory.go
//   (resource_to_telemetry_conversion copies resource attributes onto every point), accumulator.go
//   (DELTA monotonic sums are accumulated into a cumulative counter; DELTA non-monotonic sums are
//   dropped; gauges keep the last value; a series expires after metric_expiration);
// - the OTel specification "Prometheus and OpenMetrics compatibility" (OTLP metric points to
//   Prometheus), which these implement.
//
// Rules with suffixes on (UnderscoreEscapingWithSuffixes, the default; add_metric_suffixes: true):
// 1. the OTLP name is split into tokens at every character outside [a-zA-Z0-9:] ("." and "_"
//    included), so "freeswitch.rtcp.packets_lost" is [freeswitch, rtcp, packets, lost];
// 2. the unit is split at "/"; a part containing "{" or "}" (an annotation such as {packet}) adds
//    nothing; otherwise it is mapped (ms → milliseconds, By → bytes, s → seconds, 1 → nothing,
//    % → percent, ...), and appended as a token unless the name already has that token
//    ("total_bytes" in By stays "total_bytes"); the per-unit becomes "per_<unit>" (s → second);
// 3. a monotonic sum (a counter) ends in "total" (any earlier "total" token is removed);
// 4. a gauge whose unit is exactly "1" ends in "ratio" (likewise; sums never get "ratio");
// 5. the namespace, when set, is the first token; tokens are joined with "_"; a leading digit
//    gets a "_" prefix.
// Labels: every attribute key with each character outside [a-zA-Z0-9_] replaced by "_", "key_"
// before a leading digit, "key" before a single leading "_" (a "__" prefix is kept).

/** The exporter's settings that change names and labels, read from its config section. */
export interface PrometheusExporterSettings {
  /** `namespace`, "" when unset. */
  readonly namespace: string;
  /** Unit and type suffixes (`translation_strategy` *WithSuffixes, or `add_metric_suffixes`). */
  readonly withSuffixes: boolean;
  /** Names and labels keep UTF-8 (NoUTF8EscapingWithSuffixes, NoTranslation). */
  readonly utf8: boolean;
  /** `resource_to_telemetry_conversion.enabled`: every resource attribute becomes a label. */
  readonly resourceToLabels: boolean;
  /** `resource_to_telemetry_conversion.exclude_service_attributes`. */
  readonly excludeServiceAttributes: boolean;
  /** `without_scope_info`: no otel_scope_* labels. */
  readonly withoutScopeInfo: boolean;
  /** `const_labels` keys. */
  readonly constLabels: readonly string[];
}

/** What the exporter needs to know about one OTLP metric, as it arrived over OTLP. */
export interface OtlpMetricShape {
  readonly name: string;
  readonly unit: string;
  readonly type: "gauge" | "sum" | "histogram";
  /** Sums only: a monotonic sum is a counter. */
  readonly monotonic: boolean;
  /** Point attribute keys. */
  readonly attributes: readonly string[];
  /** Resource attribute keys. */
  readonly resourceAttributes: readonly string[];
}

const UNITS: Readonly<Record<string, string>> = {
  d: "days",
  h: "hours",
  min: "minutes",
  s: "seconds",
  ms: "milliseconds",
  us: "microseconds",
  ns: "nanoseconds",
  By: "bytes",
  KiBy: "kibibytes",
  MiBy: "mebibytes",
  GiBy: "gibibytes",
  TiBy: "tibibytes",
  KBy: "kilobytes",
  MBy: "megabytes",
  GBy: "gigabytes",
  TBy: "terabytes",
  m: "meters",
  V: "volts",
  A: "amperes",
  J: "joules",
  W: "watts",
  g: "grams",
  Cel: "celsius",
  Hz: "hertz",
  "1": "",
  "%": "percent",
};

const PER_UNITS: Readonly<Record<string, string>> = {
  s: "second",
  m: "minute",
  h: "hour",
  d: "day",
  w: "week",
  mo: "month",
  y: "year",
};

const TRANSLATION_STRATEGIES: Readonly<Record<string, { suffixes: boolean; utf8: boolean }>> = {
  UnderscoreEscapingWithSuffixes: { suffixes: true, utf8: false },
  UnderscoreEscapingWithoutSuffixes: { suffixes: false, utf8: false },
  NoUTF8EscapingWithSuffixes: { suffixes: true, utf8: true },
  NoTranslation: { suffixes: false, utf8: true },
};

function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The settings of one `prometheus` exporter section of a Collector config (defaults applied). */
export function exporterSettings(section: unknown): PrometheusExporterSettings {
  const s = isMapping(section) ? section : {};
  const strategyName = typeof s.translation_strategy === "string" ? s.translation_strategy : "";
  const strategy = TRANSLATION_STRATEGIES[strategyName];
  if (strategyName !== "" && strategy === undefined) {
    throw new Error(`unknown translation_strategy ${JSON.stringify(strategyName)}`);
  }
  const r2t = isMapping(s.resource_to_telemetry_conversion)
    ? s.resource_to_telemetry_conversion
    : {};
  return {
    namespace: typeof s.namespace === "string" ? s.namespace : "",
    // translation_strategy, when set, wins over the deprecated add_metric_suffixes (default true).
    withSuffixes: strategy?.suffixes ?? s.add_metric_suffixes !== false,
    utf8: strategy?.utf8 ?? false,
    resourceToLabels: r2t.enabled === true,
    excludeServiceAttributes: r2t.exclude_service_attributes === true,
    withoutScopeInfo: s.without_scope_info === true,
    constLabels: isMapping(s.const_labels) ? Object.keys(s.const_labels) : [],
  };
}

function mapUnit(unit: string): string {
  return UNITS[unit] ?? unit;
}

/** [main, per] unit suffixes before clean-up; "" when absent or an annotation. */
function unitSuffixes(unit: string): [string, string] {
  const [mainPart = "", perPart] = unit.split(/\/(.*)/s, 2);
  const main = mainPart.trim();
  const mainSuffix = main !== "" && !/[{}]/.test(main) ? mapUnit(main) : "";
  let perSuffix = "";
  if (perPart !== undefined && perPart !== "") {
    const per = perPart.trim();
    if (per !== "" && !/[{}]/.test(per)) perSuffix = `per_${PER_UNITS[per] ?? per}`;
  }
  return [mainSuffix, perSuffix];
}

function cleanUpUnit(unit: string): string {
  return unit
    .replace(/[^a-zA-Z0-9:]/g, "_")
    .replace(/__+/g, "_")
    .replace(/^_/, "");
}

function tokens(name: string): string[] {
  return name.split(/[^a-zA-Z0-9:]+/).filter((t) => t !== "");
}

function isCounter(metric: OtlpMetricShape): boolean {
  return metric.type === "sum" && metric.monotonic;
}

/** The Prometheus metric name the exporter serves for `metric` (a histogram's base name). */
export function prometheusMetricName(
  metric: OtlpMetricShape,
  settings: PrometheusExporterSettings,
): string {
  if (settings.utf8) return utf8Name(metric, settings);
  if (!settings.withSuffixes) {
    const name = tokens(metric.name).join("_");
    if (settings.namespace !== "") return `${tokens(settings.namespace).join("_")}_${name}`;
    return /^\d/.test(name) ? `_${name}` : name;
  }
  let nameTokens = tokens(metric.name);
  const [mainRaw, perRaw] = unitSuffixes(metric.unit);
  let main = cleanUpUnit(mainRaw);
  let per = cleanUpUnit(perRaw);
  if (nameTokens.includes(main)) main = "";
  if (per === "per_") per = "";
  else {
    per = per.replace(/_$/, "");
    if (nameTokens.includes(per)) per = "";
  }
  if (per !== "") main = main.replace(/_$/, "");
  if (main !== "") nameTokens.push(main);
  if (per !== "") nameTokens.push(per);
  if (isCounter(metric)) nameTokens = [...nameTokens.filter((t) => t !== "total"), "total"];
  if (metric.unit === "1" && metric.type === "gauge") {
    nameTokens = [...nameTokens.filter((t) => t !== "ratio"), "ratio"];
  }
  if (settings.namespace !== "") nameTokens.unshift(settings.namespace);
  const name = nameTokens.join("_");
  return /^\d/.test(name) ? `_${name}` : name;
}

/** otlptranslator's buildMetricName: suffixes without escaping (UTF-8 strategies). */
function utf8Name(metric: OtlpMetricShape, settings: PrometheusExporterSettings): string {
  let name = settings.namespace === "" ? metric.name : `${settings.namespace}_${metric.name}`;
  if (!settings.withSuffixes) return name;
  const trim = (suffix: string): void => {
    if (name.endsWith(suffix) && name.length > suffix.length + 1) {
      name = name.slice(0, name.length - suffix.length - 1);
    }
  };
  const after: string[] = [];
  if (metric.unit === "1" && metric.type === "gauge") {
    trim("ratio");
    after.unshift("_ratio");
  }
  if (isCounter(metric)) {
    trim("total");
    after.unshift("_total");
  }
  const [main, per] = unitSuffixes(metric.unit);
  if (per !== "") {
    trim(per);
    after.unshift(`_${per}`);
  }
  if (main !== "" && !name.endsWith(main)) name = `${name}_${main}`;
  return name + after.join("");
}

/** A label name for an attribute key (LabelNamer.Build). */
export function prometheusLabelName(key: string, settings: PrometheusExporterSettings): string {
  if (key === "" || settings.utf8) return key;
  let name = key.replace(/[^a-zA-Z0-9_]/g, "_");
  if (/^\d/.test(name)) name = `key_${name}`;
  else if (name.startsWith("_") && !name.startsWith("__")) name = `key${name}`;
  return name;
}

const SERVICE_ATTRIBUTES = ["service.name", "service.instance.id", "service.namespace"];

/**
 * The labels of `metric` as the exporter serves it: point attributes, resource attributes (with
 * resource_to_telemetry_conversion), scope labels, `job` (from service.name) and `instance`
 * (from service.instance.id), and const_labels.
 */
export function exporterLabels(
  metric: OtlpMetricShape,
  settings: PrometheusExporterSettings,
): Set<string> {
  const labels = new Set<string>();
  for (const key of metric.attributes) labels.add(prometheusLabelName(key, settings));
  if (settings.resourceToLabels) {
    for (const key of metric.resourceAttributes) {
      if (settings.excludeServiceAttributes && SERVICE_ATTRIBUTES.includes(key)) continue;
      labels.add(prometheusLabelName(key, settings));
    }
  }
  if (!settings.withoutScopeInfo) {
    labels.add("otel_scope_name");
    labels.add("otel_scope_version");
  }
  if (metric.resourceAttributes.includes("service.name")) labels.add("job");
  if (metric.resourceAttributes.includes("service.instance.id")) labels.add("instance");
  for (const key of settings.constLabels) labels.add(prometheusLabelName(key, settings));
  return labels;
}

/**
 * What a Prometheus scrape does to a target's labels: it always sets `job` and `instance`; with
 * honor_labels false a series that already has one keeps it as `exported_job` /
 * `exported_instance` (Prometheus's documented conflict rule).
 */
export function scrapedLabels(exposed: ReadonlySet<string>, honorLabels: boolean): Set<string> {
  const labels = new Set(exposed);
  for (const target of ["job", "instance"]) {
    if (!honorLabels && exposed.has(target)) labels.add(`exported_${target}`);
    labels.add(target);
  }
  return labels;
}

/** The series names Prometheus stores for one metric family of the given type. */
export function seriesNames(name: string, type: "gauge" | "counter" | "histogram" | "summary") {
  if (type === "histogram") return [`${name}_bucket`, `${name}_sum`, `${name}_count`];
  if (type === "summary") return [name, `${name}_sum`, `${name}_count`];
  return [name];
}
