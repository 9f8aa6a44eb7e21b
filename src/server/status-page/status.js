// The status page's script (docs/status-page.md). ../status-page.ts inlines it into index.html as
// a module script that the Content-Security-Policy admits by its hash, so it can import nothing:
// everything it needs is here. It polls `api/status` (relative: it also works behind a path
// prefix) every 2 s and redraws in place. Every value from the agent goes into the DOM as text
// (textContent), never as markup: labels come from FreeSWITCH and may hold anything.

// Types only (the page loads nothing): the /api/status body as the agent builds it.
/** @typedef {import("../status-body.js").StatusBody} StatusBody */
/** @typedef {import("../status-body.js").StatusChartSample} StatusChartSample */
/** @typedef {import("../status-body.js").StatusLeg} StatusLeg */
/** @typedef {import("../status-body.js").StatusServer} StatusServer */

const POLL_MS = 2000;
const SAMPLES = 60;
const MOS_GOOD = 4;
const MOS_FAIR = 3.5;
const JITTER_HIGH = 30;
const LOSS_HIGH = 0.03;
const RTT_HIGH = 300;
const SVG = "http://www.w3.org/2000/svg";

/**
 * The element the selector finds, checked to be what the code handles: the markup is fixed, so a
 * miss is a bug in index.html, said as such.
 * @template {Element} T
 * @param {string} selector
 * @param {{ new (): T; prototype: T }} type
 * @returns {T}
 */
function find(selector, type) {
  const e = document.querySelector(selector);
  if (!(e instanceof type)) throw new Error(`the page has no ${selector}`);
  return e;
}
/** @param {string} id */
const $ = (id) => find(`#${id}`, HTMLElement);

/**
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {string} [cls]
 * @param {string | number | null} [text]
 * @returns {HTMLElementTagNameMap[K]}
 */
function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined && text !== null) e.textContent = String(text);
  return e;
}
/**
 * @param {string} tag
 * @param {Record<string, string | number>} attrs
 * @param {string | number} [text]
 */
function svg(tag, attrs, text) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = String(text);
  return e;
}
/**
 * @param {number | null | undefined} v
 * @param {number} d
 */
const fmt = (v, d) => (v === null || v === undefined ? "\u2014" : v.toFixed(d));
/** @param {number | null | undefined} m */
function mosClass(m) {
  return m === null || m === undefined
    ? ""
    : m >= MOS_GOOD
      ? "good"
      : m >= MOS_FAIR
        ? "fair"
        : "poor";
}
/** @param {number | null | undefined} s */
function duration(s) {
  if (s === null || s === undefined) return "\u2014";
  s = Math.max(0, Math.floor(s));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  /** @param {number} n */
  const pad = (n) => (n < 10 ? "0" : "") + n;
  return h > 0 ? `${h}h ${pad(m)}m` : m > 0 ? `${m}m ${pad(r)}s` : `${r}s`;
}
/** @param {number} s */
function span(s) {
  return s % 60 === 0 ? s / 60 + (s === 60 ? " minute" : " minutes") : `${s} seconds`;
}
/** @param {string} iso */
function clock(iso) {
  return new Date(iso).toLocaleTimeString([], { hour12: false });
}

/**
 * A value with its threshold word: "3.43 poor", "45.0 high".
 * @param {HTMLElement} td
 * @param {number | null} value
 * @param {number} digits
 * @param {string} word
 * @param {string} cls
 */
function valueCell(td, value, digits, word, cls) {
  const main = el("span", cls, fmt(value, digits));
  td.appendChild(main);
  if (word) td.appendChild(el("span", `tag ${cls}`, word));
}
/**
 * @param {HTMLElement} td
 * @param {number | null} m
 */
function mosCell(td, m) {
  valueCell(td, m, 2, m === null ? "" : mosClass(m), mosClass(m));
}
/**
 * @param {HTMLElement} td
 * @param {number | null} v
 * @param {number} digits
 * @param {number} high
 */
function highCell(td, v, digits, high) {
  valueCell(
    td,
    v,
    digits,
    v !== null && v > high ? "high" : "",
    v !== null && v > high ? "high" : "",
  );
}
/**
 * @param {HTMLElement} td
 * @param {number | null} a
 * @param {number | null} b
 * @param {number} digits
 */
function split(td, a, b, digits) {
  td.appendChild(el("small", "", `in ${fmt(a, digits)} \u00b7 out ${fmt(b, digits)}`));
}
/** @param {number | null} f */
const pct = (f) => (f === null || f === undefined ? null : f * 100);

// ---- instances -----------------------------------------------------------------------
/** @type {Record<string, string>} */
const STATE_CLASS = {
  connected: "ok",
  connecting: "warn",
  authenticating: "warn",
  subscribing: "warn",
};
/** @param {StatusBody} data */
function renderInstances(data) {
  const ul = $("instances");
  ul.textContent = "";
  const now = Date.parse(data.generated_at);
  for (const i of data.instances) {
    const li = el("li", STATE_CLASS[i.state] || "bad");
    li.dataset.instance = i.name;
    li.appendChild(el("strong", "", i.name));
    li.appendChild(document.createTextNode(" "));
    const state = el("span", "state", (i.connected ? "\u25cf " : "\u25cb ") + i.state);
    state.dataset.state = i.state;
    li.appendChild(state);
    const seen =
      i.last_event_at === null
        ? "no event yet"
        : `last event ${duration((now - Date.parse(i.last_event_at)) / 1000)} ago`;
    li.appendChild(
      el("small", "", `${seen} \u00b7 ${i.reconnects} reconnect${i.reconnects === 1 ? "" : "s"}`),
    );
    if (i.owned !== null)
      li.appendChild(
        el(
          "small",
          "",
          i.owned ? "owned by this replica" : `owner: ${i.owner === null ? "none" : i.owner}`,
        ),
      );
    if (i.last_error && !i.connected) li.appendChild(el("small", "", i.last_error));
    if (i.server !== null) renderServer(li, i.server);
    ul.appendChild(li);
  }
}

/** @param {number | null} s */
function uptime(s) {
  if (s === null) return "\u2014";
  const days = Math.floor(s / 86400);
  return days > 0 ? `${days}d ${Math.floor((s % 86400) / 3600)}h` : duration(s);
}
/**
 * What FreeSWITCH says of itself, under its card: sessions, rate, idle CPU, uptime, version,
 * then its gateways (down ones first, as /api/status lists them).
 * @param {HTMLElement} li
 * @param {StatusServer} s
 */
function renderServer(li, s) {
  const figures = el("div", "server");
  /** @param {string} field @param {string} text @param {string} [cls] */
  const add = (field, text, cls) => {
    const e = el("span", cls, text);
    e.dataset.field = field;
    figures.appendChild(e);
  };
  if (s.sessions !== null) {
    const load = s.sessions.limit > 0 ? s.sessions.active / s.sessions.limit : 0;
    add(
      "sessions",
      `${s.sessions.active} / ${s.sessions.limit} sessions`,
      load >= 0.9 ? "poor" : load >= 0.75 ? "fair" : "",
    );
  }
  if (s.session_rate !== null)
    add("session_rate", `${s.session_rate.current}/s of ${s.session_rate.limit}/s`);
  if (s.idle_cpu !== null)
    add(
      "idle_cpu",
      `idle CPU ${Math.round(s.idle_cpu * 100)} %`,
      s.idle_cpu < 0.1 ? "poor" : s.idle_cpu < 0.25 ? "fair" : "",
    );
  if (s.uptime_s !== null) add("uptime", `up ${uptime(s.uptime_s)}`);
  if (s.version !== null) add("version", `FreeSWITCH ${s.version}`);
  li.appendChild(figures);
  if (s.gateways === null || s.gateways.length === 0) return;
  const list = el("ul", "gateways");
  for (const g of s.gateways) {
    const item = el("li", g.up ? "good" : "poor", `${g.up ? "\u25cf" : "\u25cb"} ${g.name}`);
    item.dataset.gateway = g.name;
    item.dataset.up = String(g.up);
    item.title = `profile ${g.profile}, status ${g.status}`;
    item.appendChild(
      el(
        "small",
        "",
        ` ${g.state}${g.ping_s === null ? "" : ` \u00b7 ${fmt(g.ping_s * 1000, 1)} ms`}`,
      ),
    );
    list.appendChild(item);
  }
  li.appendChild(list);
}

// ---- charts --------------------------------------------------------------------------
const W = 300;
const H = 110;
const PAD_L = 30;
const PAD_B = 16;
const PAD_T = 8;
/**
 * Draws one series into #id and returns its text summary.
 * @param {string} id
 * @param {number[]} values
 * @param {string} unit
 * @param {number} digits
 * @param {number} intervalS
 */
function lineChart(id, values, unit, digits, intervalS) {
  const box = $(id);
  box.textContent = "";
  const max = Math.max(1, ...values);
  const s = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img" });
  const plotW = W - PAD_L - 4;
  const plotH = H - PAD_B - PAD_T;
  s.appendChild(
    svg("line", { class: "axis", x1: PAD_L, y1: PAD_T + plotH, x2: W - 4, y2: PAD_T + plotH }),
  );
  s.appendChild(svg("line", { class: "axis", x1: PAD_L, y1: PAD_T, x2: PAD_L, y2: PAD_T + plotH }));
  s.appendChild(
    svg(
      "text",
      { x: PAD_L - 4, y: PAD_T + 8, "text-anchor": "end" },
      max % 1 ? max.toFixed(1) : max,
    ),
  );
  s.appendChild(svg("text", { x: PAD_L - 4, y: PAD_T + plotH, "text-anchor": "end" }, 0));
  const slots = SAMPLES - 1;
  s.appendChild(svg("text", { x: PAD_L, y: H - 3 }, `${span(SAMPLES * intervalS)} ago`));
  s.appendChild(svg("text", { x: W - 4, y: H - 3, "text-anchor": "end" }, "now"));
  if (values.length > 0) {
    /** @param {number} i */
    const x = (i) => PAD_L + plotW - (values.length - 1 - i) * (plotW / slots);
    /** @param {number} v */
    const y = (v) => PAD_T + plotH - (v / max) * plotH;
    const pts = values.map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`);
    const base = PAD_T + plotH;
    s.appendChild(
      svg("polygon", {
        class: "area",
        points: `${x(0).toFixed(1)},${base} ${pts.join(" ")} ${x(values.length - 1).toFixed(1)},${base}`,
      }),
    );
    s.appendChild(svg("polyline", { class: "series", points: pts.join(" ") }));
  }
  const now = values.length ? values[values.length - 1] : null;
  const label = values.length
    ? `now ${fmt(now, digits)} ${unit}, peak ${fmt(Math.max(...values), digits)} over the last ${duration(values.length * intervalS)}`
    : "no sample yet";
  s.setAttribute("aria-label", label);
  box.appendChild(s);
  return label;
}
/**
 * @param {number | null} upper
 * @returns {"good" | "fair" | "poor"}
 */
function bucketClass(upper) {
  return upper === null ? "good" : upper <= MOS_FAIR ? "poor" : upper <= MOS_GOOD ? "fair" : "good";
}
/**
 * Draws the ended legs' MOS histogram into #chart-mos and returns its text summary.
 * @param {number[]} bounds
 * @param {StatusChartSample[]} samples
 */
function mosChart(bounds, samples) {
  const box = $("chart-mos");
  box.textContent = "";
  /** @type {number[]} */
  const counts = new Array(bounds.length + 1).fill(0);
  for (const s of samples)
    s.mos_ended.forEach((c, i) => {
      counts[i] = (counts[i] ?? 0) + c;
    });
  const total = counts.reduce((a, b) => a + b, 0);
  const max = Math.max(1, ...counts);
  const s = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img" });
  const plotH = H - PAD_B - PAD_T - 10;
  const slot = (W - 8) / counts.length;
  const words = { poor: 0, fair: 0, good: 0 };
  counts.forEach((c, i) => {
    // Past the last bound: the open bucket above it.
    const upper = bounds[i] ?? null;
    const cls = bucketClass(upper);
    words[cls] += c;
    const h = (c / max) * plotH;
    const x = 4 + i * slot;
    s.appendChild(
      svg("rect", {
        class: cls,
        x: (x + 2).toFixed(1),
        y: (PAD_T + 10 + plotH - h).toFixed(1),
        width: (slot - 4).toFixed(1),
        height: Math.max(c ? 1 : 0, h).toFixed(1),
      }),
    );
    if (c)
      s.appendChild(
        svg(
          "text",
          {
            x: (x + slot / 2).toFixed(1),
            y: (PAD_T + 8 + plotH - h).toFixed(1),
            "text-anchor": "middle",
          },
          c,
        ),
      );
    s.appendChild(
      svg(
        "text",
        { x: (x + slot / 2).toFixed(1), y: H - 3, "text-anchor": "middle" },
        upper === null ? `>${bounds[bounds.length - 1]}` : `\u2264${upper}`,
      ),
    );
  });
  const label =
    total === 0
      ? "no leg ended with a MOS yet"
      : `${total} legs ended: ${words.poor} poor (MOS under 3.5), ${words.fair} fair, ${words.good} good`;
  s.setAttribute("aria-label", label);
  box.appendChild(s);
  return label;
}
/** @param {StatusBody} data */
function renderCharts(data) {
  const c = data.charts;
  const samples = c.samples;
  $("cap-events").textContent = lineChart(
    "chart-events",
    samples.map((s) => s.events_per_s),
    "events/s",
    1,
    c.interval_s,
  );
  $("cap-active").textContent = lineChart(
    "chart-active",
    samples.map((s) => s.active_legs),
    "legs",
    0,
    c.interval_s,
  );
  $("cap-mos").textContent = mosChart(c.mos_buckets, samples);
  $("charts-title").textContent = `Last ${span(SAMPLES * c.interval_s)}`;
  $("charts-span").textContent = `(one point every ${c.interval_s} s)`;
}

// ---- active legs ---------------------------------------------------------------------
/**
 * A column of the active legs: the value it sorts by (numbers, or text for the labels), whether
 * it is right-aligned, and the direction of its first click (the worst legs first).
 * @typedef {object} Column
 * @property {string} header
 * @property {(leg: StatusLeg) => number | string | null} value
 * @property {boolean} numeric
 * @property {"asc" | "desc"} first
 */
/** @satisfies {Record<string, Column>} */
const COLUMNS = {
  mos: { header: "MOS est.", value: (l) => l.mos_estimate, numeric: true, first: "asc" },
  jitter: { header: "Jitter ms", value: (l) => l.jitter_ms, numeric: true, first: "desc" },
  loss: { header: "Loss %", value: (l) => l.fraction_lost, numeric: true, first: "desc" },
  rtt: { header: "RTT ms", value: (l) => l.rtt_ms, numeric: true, first: "desc" },
  age: { header: "Age", value: (l) => l.age_s, numeric: true, first: "desc" },
  domain: { header: "Domain", value: (l) => l.domain_name, numeric: false, first: "asc" },
  codec: { header: "Codec", value: (l) => l.codec_name, numeric: false, first: "asc" },
  direction: { header: "Direction", value: (l) => l.call_direction, numeric: false, first: "asc" },
  instance: { header: "Instance", value: (l) => l.fs_instance, numeric: false, first: "asc" },
  reports: {
    header: "Reports",
    value: (l) => l.inbound.reports + l.outbound.reports,
    numeric: true,
    first: "desc",
  },
  channel: { header: "Channel", value: (l) => l.channel_id, numeric: false, first: "asc" },
};
/** @typedef {keyof typeof COLUMNS} ColumnKey */
/** Object.keys types its keys as any string; these are exactly COLUMNS' own. */
const COLUMN_KEYS = /** @type {ColumnKey[]} */ (Object.keys(COLUMNS));

/** @type {{ key: ColumnKey, dir: "asc" | "desc" }} */
let sort = { key: "mos", dir: "asc" };
/** @type {StatusBody | null} */
let last = null;

/**
 * @param {StatusLeg} a
 * @param {StatusLeg} b
 */
function compare(a, b) {
  const col = COLUMNS[sort.key];
  const va = col.value(a);
  const vb = col.value(b);
  // Ties: worst first (the agent's order).
  if (va === vb) return 0;
  if (va === null || va === "") return 1; // unknown values last, whatever the direction
  if (vb === null || vb === "") return -1;
  const d =
    typeof va === "number" && typeof vb === "number"
      ? va - vb
      : String(va).localeCompare(String(vb));
  return sort.dir === "asc" ? d : -d;
}

/** @type {{ key: ColumnKey, th: HTMLTableCellElement, arrow: HTMLSpanElement }[]} */
const headers = [];
function renderHeader() {
  for (const { key, th, arrow } of headers) {
    if (key === sort.key) {
      th.setAttribute("aria-sort", sort.dir === "asc" ? "ascending" : "descending");
      arrow.textContent = sort.dir === "asc" ? " \u25b2" : " \u25bc";
    } else {
      th.removeAttribute("aria-sort");
      arrow.textContent = "";
    }
  }
}
function buildHeader() {
  const tr = find("#active thead tr", HTMLTableRowElement);
  for (const key of COLUMN_KEYS) {
    const col = COLUMNS[key];
    const th = el("th", col.numeric ? "num" : "");
    th.scope = "col";
    th.dataset.key = key;
    const b = el("button", "", col.header);
    b.type = "button";
    const arrow = b.appendChild(el("span", ""));
    arrow.setAttribute("aria-hidden", "true");
    b.addEventListener("click", () => {
      sort =
        sort.key === key
          ? { key, dir: sort.dir === "asc" ? "desc" : "asc" }
          : { key, dir: col.first };
      renderHeader();
      if (last) renderActive(last);
    });
    th.appendChild(b);
    tr.appendChild(th);
    headers.push({ key, th, arrow });
  }
  renderHeader();
}
/** @param {StatusBody} data */
function renderActive(data) {
  const t = data.totals;
  const q = t.quality;
  const legs = data.active_legs.map((leg, index) => ({ leg, index }));
  legs.sort((a, b) => compare(a.leg, b.leg) || a.index - b.index);
  $("active-summary").textContent =
    `Showing ${t.active_legs_listed} of ${t.active_legs} legs (the ` +
    (t.active_legs_listed < t.active_legs ? `worst ${t.active_legs_listed}` : "whole list") +
    `), sorted by ${COLUMNS[sort.key].header}` +
    (sort.dir === "asc" ? " ascending" : " descending") +
    `. Quality now: ${q.poor} poor, ${q.fair} fair, ${q.good} good, ${q.unknown} without RTCP yet.`;
  const tbody = find("#active tbody", HTMLTableSectionElement);
  tbody.textContent = "";
  if (legs.length === 0) {
    const td = el("td", "empty", "No call in progress.");
    td.colSpan = COLUMN_KEYS.length;
    tbody.appendChild(el("tr")).appendChild(td);
    return;
  }
  for (const { leg: l } of legs) {
    const tr = el("tr");
    tr.dataset.channelId = l.channel_id;
    /**
     * @param {string} key
     * @param {string} cls
     */
    const cell = (key, cls) => {
      const td = el("td", cls);
      td.dataset.col = key;
      tr.appendChild(td);
      return td;
    };
    let td = cell("mos", "num");
    mosCell(td, l.mos_estimate);
    split(td, l.inbound.mos_estimate, l.outbound.mos_estimate, 2);
    td = cell("jitter", "num");
    highCell(td, l.jitter_ms, 1, JITTER_HIGH);
    split(td, l.inbound.jitter_ms, l.outbound.jitter_ms, 1);
    td = cell("loss", "num");
    highCell(td, pct(l.fraction_lost), 1, LOSS_HIGH * 100);
    split(td, pct(l.inbound.fraction_lost), pct(l.outbound.fraction_lost), 1);
    td = cell("rtt", "num");
    highCell(td, l.rtt_ms, 0, RTT_HIGH);
    cell("age", "num").textContent = duration(l.age_s);
    cell("domain", "").textContent = l.domain_name || "\u2014";
    cell("codec", "").textContent = l.codec_name || "\u2014";
    cell("direction", "").textContent = l.call_direction || "\u2014";
    cell("instance", "").textContent = l.fs_instance;
    cell("reports", "num").textContent = `${l.inbound.reports} / ${l.outbound.reports}`;
    cell("channel", "id").textContent = l.channel_id;
    tbody.appendChild(tr);
  }
}

// ---- ended legs ----------------------------------------------------------------------
/** @param {StatusBody} data */
function renderEnded(data) {
  const tbody = find("#ended tbody", HTMLTableSectionElement);
  tbody.textContent = "";
  if (data.ended_legs.length === 0) {
    const td = el("td", "empty", "No leg has ended since the agent started.");
    td.colSpan = 11;
    tbody.appendChild(el("tr")).appendChild(td);
    return;
  }
  for (const l of data.ended_legs) {
    const tr = el("tr");
    tr.dataset.channelId = l.channel_id;
    /**
     * @param {string} key
     * @param {string} cls
     */
    const cell = (key, cls) => {
      const td = el("td", cls);
      td.dataset.col = key;
      tr.appendChild(td);
      return td;
    };
    cell("ended", "").textContent = clock(l.ended_at);
    mosCell(cell("mos", "num"), l.mos);
    mosCell(cell("mos_estimate", "num"), l.mos_estimate);
    highCell(cell("jitter", "num"), l.jitter_avg_ms, 1, JITTER_HIGH);
    cell("lost", "num").textContent = fmt(l.packet_loss, 0);
    cell("duration", "num").textContent = duration(l.duration_s);
    cell("cause", "").textContent = l.hangup_cause || "\u2014";
    cell("domain", "").textContent = l.domain_name || "\u2014";
    cell("codec", "").textContent = l.codec_name || "\u2014";
    cell("instance", "").textContent = `${l.fs_instance} \u00b7 ${l.call_direction || "\u2014"}`;
    cell("channel", "id").textContent = l.channel_id;
    tbody.appendChild(tr);
  }
}

/** @param {StatusBody} data */
function render(data) {
  last = data;
  $("version").textContent =
    data.agent.version + (data.agent.replica_id ? ` \u00b7 replica ${data.agent.replica_id}` : "");
  $("updated").textContent =
    `up ${duration(data.agent.uptime_s)} \u00b7 updated ${clock(data.generated_at)}`;
  renderInstances(data);
  renderCharts(data);
  renderActive(data);
  renderEnded(data);
  document.body.dataset.generatedAt = data.generated_at;
}

let timer = 0;
async function poll() {
  clearTimeout(timer);
  try {
    const res = await fetch("api/status", {
      cache: "no-store",
      headers: { Accept: "application/json" },
    });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    /** @type {StatusBody} */
    const data = await res.json();
    render(data);
    $("conn").textContent = "";
  } catch (e) {
    const why = e instanceof Error && e.message ? e.message : String(e);
    const from = last ? clock(last.generated_at) : "nowhere yet";
    $("conn").textContent =
      `The agent does not answer (${why}); the figures below are from ${from}. ` +
      `Retrying every ${POLL_MS / 1000} s.`;
  }
  if (!document.hidden) timer = setTimeout(poll, POLL_MS);
}
document.addEventListener("visibilitychange", () => {
  if (!document.hidden) poll();
});
buildHeader();
poll();
