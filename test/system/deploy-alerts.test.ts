// Issue 9: the alert rules, checked and unit-tested by the real promtool (Debian package
// "prometheus"; bash .ci/run installs it). deploy-dashboards.test.ts (system suite) already checks that every
// rule queries only metrics and labels the agent really exports; here promtool parses the rules
// and runs deploy/prometheus/alerts.test.yml, which must prove for every alert that it fires and
// that it stays silent. The Kubernetes PrometheusRule must carry the very same groups.

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { describe, it } from "node:test";
import { list, REPO, readYaml, text, tree } from "../support/deploy.js";

const PROMTOOL = process.env.FSAGENT_TEST_PROMTOOL ?? "promtool";
const RULES = "deploy/prometheus/alerts.yml";
const TESTS = "deploy/prometheus/alerts.test.yml";

function promtool(...args: string[]): string {
  const run = spawnSync(PROMTOOL, args, { cwd: REPO, encoding: "utf8", timeout: 60_000 });
  if (run.error !== undefined) {
    const missing = (run.error as NodeJS.ErrnoException).code === "ENOENT";
    throw new Error(
      missing
        ? `${PROMTOOL} not found: the alert rule tests need promtool (Debian: apt-get install prometheus; bash .ci/run installs it)`
        : `${PROMTOOL} ${args.join(" ")}: ${run.error.message}`,
    );
  }
  const output = `${run.stdout}${run.stderr}`;
  assert.equal(run.status, 0, `${PROMTOOL} ${args.join(" ")} failed:\n${output}`);
  return output;
}

function alertNames(): string[] {
  const rules = tree(readYaml(RULES), RULES);
  return list(rules.groups, "groups").flatMap((g) =>
    list(tree(g, "group").rules, "rules").map((r) => text(tree(r, "rule").alert, "alert")),
  );
}

describe("Prometheus alert rules (promtool)", () => {
  it("promtool check rules accepts alerts.yml", () => {
    const out = promtool("check", "rules", RULES);
    assert.match(out, new RegExp(`SUCCESS: ${alertNames().length} rules found`));
  });

  it("promtool test rules passes alerts.test.yml", () => {
    assert.match(promtool("test", "rules", TESTS), /SUCCESS/);
  });

  it("the unit tests show every alert firing and every alert silent", () => {
    const suite = tree(readYaml(TESTS), TESTS);
    assert.deepEqual(list(suite.rule_files, "rule_files"), ["alerts.yml"]);
    const fires = new Set<string>();
    const silent = new Set<string>();
    for (const test of list(suite.tests, "tests").map((t) => tree(t, "test"))) {
      for (const c of list(test.alert_rule_test, "alert_rule_test").map((a) => tree(a, "case"))) {
        const name = text(c.alertname, "alertname");
        const expected = list(c.exp_alerts, `${name} exp_alerts`);
        (expected.length > 0 ? fires : silent).add(name);
      }
    }
    const names = alertNames();
    assert.ok(names.length >= 8, names.join(", "));
    for (const name of names) {
      assert.ok(fires.has(name), `${name}: a test case where it fires`);
      assert.ok(silent.has(name), `${name}: a test case where it stays silent`);
    }
  });

  it("the Kubernetes PrometheusRule carries the same groups as alerts.yml", () => {
    const rule = tree(readYaml("deploy/kubernetes/prometheusrule.yaml"), "prometheusrule");
    assert.equal(rule.apiVersion, "monitoring.coreos.com/v1");
    assert.equal(rule.kind, "PrometheusRule");
    assert.deepEqual(tree(rule.spec, "spec").groups, tree(readYaml(RULES), RULES).groups);
  });
});
