// The Grafana dashboards and the Prometheus alert rules query only metrics the agent really
// exports, by the names and labels Prometheus really stores. Nothing here is a hand-kept list:
// the OTLP metrics come from running the real metrics sink against an OTLP receiver that decodes
// with the official protobuf definitions, their Prometheus names from the Collector's naming
// rules (test/support/prom-names.ts) applied with the settings of the Collector config the
// Compose stack runs, and the fsagent_* metrics from the agent's own /metrics registry.

import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import { SERVER_METRICS } from "../../src/export/server-series.js";
import {
  buildCatalog,
  type CatalogEntry,
  exportedOtlpMetrics,
  filesUnder,
  internalMetrics,
  isTree,
  list,
  prometheusScrapes,
  readJson,
  readText,
  readYaml,
  type Tree,
  text,
  tree,
} from "../support/deploy.js";
import { codeSpans } from "../support/markdown.js";
import {
  exporterLabels,
  exporterSettings,
  type OtlpMetricShape,
  type PrometheusExporterSettings,
  prometheusLabelName,
  prometheusMetricName,
} from "../support/prom-names.js";
import {
  type Catalog,
  checkPromql,
  checkVariableQuery,
  templateLabels,
  templateQueries,
} from "../support/promql.js";

const collector = tree(readYaml("deploy/otel-collector/config.yaml"), "collector config");
const settings = exporterSettings(tree(collector.exporters, "exporters").prometheus);
const scrapes = prometheusScrapes(readYaml("deploy/prometheus/prometheus.yml"));
const collectorScrape = scrapes.find((s) => s.targets.some((t) => t.startsWith("otel-collector:")));

let otlp: OtlpMetricShape[] = [];
let catalog = new Map<string, CatalogEntry>();
let labelsByName: Catalog = new Map();
let counters = new Set<string>();

before(async () => {
  otlp = await exportedOtlpMetrics();
  assert.ok(collectorScrape, "Prometheus scrapes the Collector");
  catalog = buildCatalog(otlp, settings, collectorScrape.honorLabels, internalMetrics());
  labelsByName = new Map([...catalog].map(([name, entry]) => [name, entry.labels]));
  counters = new Set([...catalog].filter(([, entry]) => entry.counter).map(([name]) => name));
});

/** The OTLP names of a FreeSWITCH server's own figures (src/export/server-series.ts). */
const SERVER_NAMES = new Set<string>(Object.values(SERVER_METRICS).map((d) => d.name));

interface Query {
  readonly where: string;
  readonly expr: string;
  readonly legend: string;
}

interface Dashboard {
  readonly file: string;
  readonly json: Tree;
  readonly panels: Tree[];
  readonly queries: Query[];
}

function panelsOf(json: Tree): Tree[] {
  const out: Tree[] = [];
  const walk = (panels: unknown): void => {
    for (const panel of list(panels ?? [], "panels")) {
      const p = tree(panel, "panel");
      out.push(p);
      if (p.panels !== undefined) walk(p.panels);
    }
  };
  walk(json.panels);
  return out;
}

const dashboards: Dashboard[] = filesUnder("deploy/grafana/dashboards")
  .filter((f) => f.endsWith(".json"))
  .map((file) => {
    const json = tree(readJson(file), file);
    const panels = panelsOf(json);
    const queries = panels.flatMap((panel) =>
      list(panel.targets ?? [], "targets").map((t) => {
        const target = tree(t, "target");
        return {
          where: `${file}: "${String(panel.title)}" ${String(target.refId)}`,
          expr: text(target.expr, "expr"),
          legend: typeof target.legendFormat === "string" ? target.legendFormat : "",
        };
      }),
    );
    return { file, json, panels, queries };
  });

function dashboard(uid: string): Dashboard {
  const found = dashboards.find((d) => d.json.uid === uid);
  assert.ok(found, `dashboard ${uid}`);
  return found;
}

function metricsUsed(d: Dashboard): Set<string> {
  return new Set(d.queries.flatMap((q) => checkPromql(q.expr, labelsByName).metrics));
}

describe("the Collector's naming rules", () => {
  const plain: PrometheusExporterSettings = exporterSettings({});

  it("follow the translator's own examples", () => {
    const metric = (name: string, unit: string, type: OtlpMetricShape["type"], monotonic = false) =>
      ({ name, unit, type, monotonic, attributes: [], resourceAttributes: [] }) as const;
    const cases: [OtlpMetricShape, string][] = [
      [metric("http.server.duration", "s", "histogram"), "http_server_duration_seconds"],
      [metric("requests.count", "1", "sum", true), "requests_count_total"],
      [metric("memory.usage", "By", "gauge"), "memory_usage_bytes"],
      [metric("system.io", "By/s", "gauge"), "system_io_bytes_per_second"],
      [metric("queue.items", "{item}", "sum", false), "queue_items"],
      [metric("cpu.utilization", "1", "gauge"), "cpu_utilization_ratio"],
      [metric("total.requests", "1", "sum", true), "requests_total"],
    ];
    for (const [input, expected] of cases) {
      assert.equal(prometheusMetricName(input, plain), expected, input.name);
    }
    assert.equal(prometheusLabelName("service.instance.id", plain), "service_instance_id");
    assert.equal(prometheusLabelName("2xx", plain), "key_2xx");
    assert.equal(prometheusLabelName("_private", plain), "key_private");
  });

  it("give the agent's metrics the names docs/metrics.md documents", () => {
    const names = otlp.map((m) => prometheusMetricName(m, settings));
    const docs = readText("docs/metrics.md");
    for (const documented of [
      "freeswitch_rtcp_jitter_milliseconds",
      "freeswitch_rtcp_fraction_lost_ratio",
      "freeswitch_rtcp_packets_lost_total",
      "freeswitch_qos_mos_score_ratio",
    ]) {
      assert.ok(names.includes(documented), `${documented} in ${names.join(", ")}`);
      assert.ok(docs.includes(`\`${documented}\``), `docs/metrics.md names ${documented}`);
    }
    // "bytes" is already a token of total_bytes: no second unit suffix.
    assert.ok(names.includes("freeswitch_qos_total_bytes"));
  });

  it("give the FreeSWITCH server metrics the names docs/metrics.md lists for Prometheus", () => {
    // Every server metric is exported (the catalogue feeds the sink a server's figures) ...
    const exported = new Set(otlp.map((m) => m.name));
    for (const name of SERVER_NAMES) assert.ok(exported.has(name), `the agent exports ${name}`);
    // ... and the "In Prometheus" bullet of docs/metrics.md "FreeSWITCH servers (OTLP)" names
    // exactly the names the exporter gives them ({session}/s adds _per_second, unit 1 _ratio).
    const docs = readText("docs/metrics.md");
    const section = docs.slice(docs.indexOf("## FreeSWITCH servers (OTLP)"));
    const bullet = /^- In Prometheus\b[\s\S]*?(?=^- |^## )/m.exec(section)?.[0];
    assert.ok(bullet, 'docs/metrics.md "FreeSWITCH servers (OTLP)": the "In Prometheus" bullet');
    const documented = codeSpans(bullet).filter((span) => span.startsWith("freeswitch_"));
    const expected = otlp
      .filter((m) => SERVER_NAMES.has(m.name))
      .map((m) => prometheusMetricName(m, settings));
    assert.deepEqual([...documented].sort(), [...expected].sort());
  });

  it("apply the Collector config's settings: a namespace would rename every metric", () => {
    assert.equal(settings.namespace, "", "no namespace: the documented names");
    assert.equal(settings.withSuffixes, true);
    assert.equal(settings.resourceToLabels, true);
    const namespaced = exporterSettings({
      ...tree(tree(collector.exporters, "exporters").prometheus, "prometheus"),
      namespace: "voip",
    });
    for (const metric of otlp) {
      assert.equal(
        prometheusMetricName(metric, namespaced),
        `voip_${prometheusMetricName(metric, settings)}`,
      );
    }
  });

  it("carry the point attributes, the resource attributes, job and instance as labels", () => {
    for (const metric of otlp) {
      const labels = exporterLabels(metric, settings);
      // A FreeSWITCH server's own figures (issue 20) belong to no tenant: no domain_name.
      const server = SERVER_NAMES.has(metric.name);
      for (const key of server ? ["fs_instance"] : ["fs_instance", "domain_name"]) {
        assert.ok(labels.has(key), `${metric.name}: ${key}`);
      }
      if (server) assert.ok(!labels.has("domain_name"), `${metric.name}: no domain_name`);
      for (const key of ["service_name", "service_instance_id", "host_name", "job", "instance"]) {
        assert.ok(labels.has(key), `${metric.name}: ${key}`);
      }
    }
  });

  it("produce every name the dashboards use for the agent's OTLP metrics", () => {
    const used = new Set(dashboards.flatMap((d) => [...metricsUsed(d)]));
    const otlpNames = new Set(otlp.map((m) => m.name));
    const freeswitch = [...used].filter((name) => name.startsWith("freeswitch_"));
    assert.ok(freeswitch.length > 0);
    for (const name of freeswitch) {
      const source = catalog.get(name)?.source ?? "(none)";
      assert.ok(otlpNames.has(source), `${name} comes from an OTLP metric, not ${source}`);
    }
  });
});

describe("Grafana dashboards", () => {
  it("are the call-quality and agent-health dashboards, with unique uids", () => {
    assert.deepEqual(dashboards.map((d) => d.json.uid).sort(), [
      "fsagent-agent-health",
      "fsagent-call-quality",
    ]);
    for (const d of dashboards) {
      assert.equal(typeof d.json.title, "string");
      const ids = d.panels.map((p) => p.id);
      assert.equal(new Set(ids).size, ids.length, `${d.file}: unique panel ids`);
    }
  });

  it("query only metrics and labels that exist, with legends naming existing labels", () => {
    let checked = 0;
    for (const d of dashboards) {
      for (const query of d.queries) {
        const check = checkPromql(query.expr, labelsByName, counters);
        assert.deepEqual(check.problems, [], `${query.where}: ${query.expr}`);
        assert.ok(check.metrics.length > 0, `${query.where} selects a metric`);
        for (const label of templateLabels(query.legend)) {
          assert.ok(
            check.labels?.has(label),
            `${query.where}: legend {{${label}}} is not a label of the result of ${query.expr}`,
          );
        }
        checked++;
      }
    }
    assert.ok(checked >= 40, `${checked} queries`);
  });

  it("fill their variables from metrics and labels that exist", () => {
    for (const d of dashboards) {
      const variables = list(tree(d.json.templating, "templating").list, "variables");
      for (const v of variables.map((x) => tree(x, "variable"))) {
        if (v.type !== "query") continue;
        const query = isTree(v.query) ? text(v.query.query, "query") : text(v.query, "query");
        assert.deepEqual(checkVariableQuery(query, labelsByName), [], `${d.file}: $${v.name}`);
      }
    }
  });

  it("use the provisioned Prometheus datasource, directly or through a datasource variable", () => {
    const provisioned = filesUnder("deploy/grafana/provisioning/datasources").flatMap((f) =>
      list(tree(readYaml(f), f).datasources, "datasources").map((x) => tree(x, f)),
    );
    const uids = new Set(provisioned.map((x) => x.uid));
    for (const d of dashboards) {
      const variables = list(tree(d.json.templating, "templating").list, "variables").map((x) =>
        tree(x, "variable"),
      );
      const dsVariables = new Set(
        variables
          .filter((v) => v.type === "datasource" && v.query === "prometheus")
          .map((v) => v.name),
      );
      for (const panel of d.panels) {
        if (panel.type === "row") continue;
        const ds = tree(panel.datasource, `${d.file}: ${String(panel.title)} datasource`);
        assert.equal(ds.type, "prometheus");
        const uid = text(ds.uid, "uid");
        const variable = /^\$\{?(\w+)\}?$/.exec(uid)?.[1];
        assert.ok(
          variable === undefined ? uids.has(uid) : dsVariables.has(variable),
          `${d.file}: "${String(panel.title)}" datasource ${uid}`,
        );
      }
    }
  });

  it("show call quality: MOS, worst calls, jitter, loss, packets lost, active calls", (t) => {
    const used = metricsUsed(dashboard("fsagent-call-quality"));
    const name = (otlpName: string): string => {
      const metric = otlp.find((m) => m.name === otlpName);
      assert.ok(metric, `the agent exports ${otlpName}`);
      return prometheusMetricName(metric, settings);
    };
    for (const required of [
      "freeswitch.qos.mos_score",
      "freeswitch.rtcp.jitter",
      "freeswitch.rtcp.fraction_lost",
      "freeswitch.rtcp.packets_lost",
      "freeswitch.qos.jitter_avg",
      "freeswitch.qos.packet_loss",
    ]) {
      assert.ok(used.has(name(required)), `${name(required)} on the call-quality dashboard`);
    }
    // Active calls: the agent's gauge of the legs it holds.
    assert.ok(catalog.get("fsagent_legs_active")?.source.startsWith("/metrics"));
    assert.ok(used.has("fsagent_legs_active"));
    // Not a failure, a reminder: OTLP metrics no panel shows yet.
    for (const metric of otlp) {
      const prom = prometheusMetricName(metric, settings);
      const shown = [prom, `${prom}_bucket`, `${prom}_count`, `${prom}_sum`].some((n) =>
        used.has(n),
      );
      if (!shown) t.diagnostic(`${prom} (${metric.name}) is on no call-quality panel`);
    }
  });

  it("show agent health: connections, events/s, drops, export errors, reconnects", (t) => {
    const used = metricsUsed(dashboard("fsagent-agent-health"));
    for (const required of [
      "fsagent_fs_connections",
      "fsagent_fs_connection_state",
      "fsagent_events_received_total",
      "fsagent_events_processed_total",
      "fsagent_events_dropped_total",
      "fsagent_export_errors_total",
      "fsagent_export_items_dropped_total",
      "fsagent_esl_reconnects_total",
    ]) {
      assert.ok(catalog.get(required)?.source.startsWith("/metrics"), `${required} exists`);
      assert.ok(used.has(required), `${required} on the agent-health dashboard`);
    }
    for (const [name, entry] of catalog) {
      if (name.startsWith("fsagent_") && !used.has(name)) {
        t.diagnostic(`${name} (${entry.source}) is on no agent-health panel`);
      }
    }
  });
});

describe("the agent-health dashboard's FreeSWITCH servers row", () => {
  it("shows sessions and their rate against the limits, idle CPU, uptime, version, gateways, ping and registrations, for the FreeSWITCH selected", () => {
    const d = dashboard("fsagent-agent-health");
    // The panels after the row's header, up to the next row (the row is not collapsed).
    const top = list(d.json.panels, "panels").map((p) => tree(p, "panel"));
    const start = top.findIndex((p) => p.type === "row" && p.title === "FreeSWITCH servers");
    assert.ok(start >= 0, 'a "FreeSWITCH servers" row');
    const end = top.findIndex((p, i) => i > start && p.type === "row");
    const panels = top.slice(start + 1, end === -1 ? undefined : end);
    const queries = panels.flatMap((panel) =>
      list(panel.targets ?? [], "targets").map((t) => text(tree(t, "target").expr, "expr")),
    );
    const used = new Set(queries.flatMap((q) => checkPromql(q, labelsByName).metrics));
    const name = (otlpName: string): string => {
      const metric = otlp.find((m) => m.name === otlpName);
      assert.ok(metric, `the agent exports ${otlpName}`);
      return prometheusMetricName(metric, settings);
    };
    for (const required of [
      "freeswitch.sessions.active",
      "freeswitch.sessions.limit",
      "freeswitch.sessions.rate",
      "freeswitch.sessions.rate_limit",
      "freeswitch.cpu.idle",
      "freeswitch.uptime",
      "freeswitch.info",
      "freeswitch.sofia.gateway.up",
      "freeswitch.sofia.gateway.ping",
      "freeswitch.registrations",
    ]) {
      assert.ok(used.has(name(required)), `${name(required)} in the FreeSWITCH servers row`);
    }
    // Filtered by the FreeSWITCH selector; never by the agent's scrape instance, which is not the
    // instance label (service.instance.id) these series carry through the Collector.
    for (const query of queries) {
      assert.match(query, /fs_instance=~"\$fs_instance"/, query);
      assert.doesNotMatch(query, /\$instance\b/, query);
    }
  });
});

describe("Prometheus alert rules", () => {
  it("query only metrics and labels that exist, and template only existing labels", () => {
    const rules = tree(readYaml("deploy/prometheus/alerts.yml"), "alerts.yml");
    let checked = 0;
    for (const group of list(rules.groups, "groups").map((g) => tree(g, "group"))) {
      for (const rule of list(group.rules, "rules").map((r) => tree(r, "rule"))) {
        const expr = text(rule.expr, "expr");
        const check = checkPromql(expr, labelsByName, counters);
        assert.deepEqual(check.problems, [], `${String(rule.alert)}: ${expr}`);
        const templates = [
          ...Object.values(isTree(rule.annotations) ? rule.annotations : {}),
          ...Object.values(isTree(rule.labels) ? rule.labels : {}),
        ].map(String);
        for (const label of templates.flatMap(templateLabels)) {
          assert.ok(check.labels?.has(label), `${String(rule.alert)}: $labels.${label}`);
        }
        // A query an annotation runs must hold too.
        for (const query of templates.flatMap(templateQueries)) {
          const inner = checkPromql(query, labelsByName, counters);
          assert.deepEqual(inner.problems, [], `${String(rule.alert)}: template query ${query}`);
        }
        checked++;
      }
    }
    assert.ok(checked >= 3);
  });
});

describe("the PromQL checker", () => {
  const small: Catalog = new Map([
    ["m_total", new Set(["job", "instance", "fs_instance", "reason"])],
    ["g", new Set(["job", "instance", "domain_name"])],
  ]);

  it("rejects unknown metrics, unknown labels and legends of dropped labels", () => {
    assert.match(checkPromql("nope", small).problems.join(), /unknown metric "nope"/);
    assert.match(checkPromql('g{fs_instance="x"}', small).problems.join(), /"fs_instance"/);
    assert.match(checkPromql("sum by (reason) (g)", small).problems.join(), /"reason"/);
    assert.match(checkPromql("sum(rate(m_total[5m])) by (nope)", small).problems.join(), /"nope"/);
    assert.match(checkPromql("max_overtime(g[5m])", small).problems.join(), /unknown function/);
    assert.match(
      checkPromql("rate(g[5m])", small, new Set(["m_total"])).problems.join(),
      /not a counter/,
    );
    assert.deepEqual(checkPromql("rate(m_total[5m])", small, new Set(["m_total"])).problems, []);
    const summed = checkPromql("sum by (fs_instance) (rate(m_total[$__rate_interval]))", small);
    assert.deepEqual(summed.problems, []);
    assert.deepEqual([...(summed.labels ?? [])], ["fs_instance"]);
    assert.deepEqual([...(checkPromql("topk(3, g) or vector(0)", small).labels ?? [])].sort(), [
      "domain_name",
      "instance",
      "job",
    ]);
    assert.deepEqual(templateLabels("{{fs_instance}} {{ $labels.reason }} {{ $value }}"), [
      "fs_instance",
      "reason",
    ]);
    const looked =
      '{{ range printf "max by (state) (g{job=%q, domain_name=%q})" $labels.job $labels.domain_name | query }}{{ .Labels.state }}{{ end }}';
    assert.deepEqual(templateLabels(looked), ["job", "domain_name"]);
    assert.deepEqual(templateQueries(looked), ['max by (state) (g{job="x", domain_name="x"})']);
    assert.deepEqual(templateQueries('{{ with query "nope" }}{{ . | first | value }}{{ end }}'), [
      "nope",
    ]);
    assert.match(checkPromql(templateQueries(looked)[0] ?? "", small).problems.join(), /"state"/);
  });
});
