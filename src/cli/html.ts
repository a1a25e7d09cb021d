import { basename } from "node:path";
import { COLUMNS, sortedGroups, usdExact } from "./format.js";
import type { GroupTotals, NanoSum, Tally } from "./tally.js";

/** Series drawn in the chart: the groups that spent most, then one "other" for the rest. */
export const CHART_SERIES = 8;
const PALETTE = ["#2563eb", "#dc2626", "#16a34a", "#d97706", "#7c3aed", "#0891b2", "#db2777", "#65a30d", "#6b7280"];

const escape = (text: string) =>
  text.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);

const label = (values: readonly string[]) => values.join(" · ");

/** A short USD figure for axes and bars (the table has the exact ones). */
function usdShort(nano: bigint): string {
  const usd = Number(nano) / 1e9;
  if (usd === 0) return "$0";
  if (usd >= 1000) return `$${usd.toLocaleString("en-US", { maximumFractionDigits: 0 })}`;
  if (usd >= 1) return `$${usd.toFixed(2)}`;
  return `$${usd.toPrecision(3)}`;
}

interface Series {
  label: string;
  color: string;
  points: Map<string, bigint>;
}

function chartSeries(tally: Tally, rows: GroupTotals[]): Series[] {
  const keyOf = (row: GroupTotals) => row.values.join("\u001f");
  const byCost = [...rows].sort((a, b) => (b.cost.value > a.cost.value ? 1 : b.cost.value < a.cost.value ? -1 : 0));
  const top = byCost.slice(0, CHART_SERIES);
  const rest = byCost.slice(CHART_SERIES);
  const points = (sums: Map<string, NanoSum> | undefined) => new Map([...(sums ?? [])].map(([bucket, sum]) => [bucket, sum.value]));
  const series: Series[] = top.map((row, i) => ({ label: label(row.values), color: PALETTE[i]!, points: points(tally.series.get(keyOf(row))) }));
  if (rest.length) {
    const other = new Map<string, bigint>();
    for (const row of rest) for (const [bucket, sum] of tally.series.get(keyOf(row)) ?? []) other.set(bucket, (other.get(bucket) ?? 0n) + sum.value);
    series.push({ label: `other (${rest.length} groups)`, color: PALETTE[CHART_SERIES]!, points: other });
  }
  return series;
}

/** An inline SVG line chart: spend per time bucket, one path per series. */
function chart(tally: Tally, series: Series[]): string {
  const buckets = [...new Set(series.flatMap((s) => [...s.points.keys()]))].sort();
  const W = 900;
  const H = 320;
  const left = 70;
  const right = 20;
  const top = 16;
  const bottom = 40;
  const max = series.reduce((m, s) => [...s.points.values()].reduce((mm, v) => (v > mm ? v : mm), m), 0n);
  const maxUsd = Number(max) / 1e9 || 1;
  const x = (i: number) => left + (buckets.length <= 1 ? (W - left - right) / 2 : (i * (W - left - right)) / (buckets.length - 1));
  const y = (nano: bigint) => top + (H - top - bottom) * (1 - Number(nano) / 1e9 / maxUsd);
  const f = (n: number) => n.toFixed(1);
  const grid: string[] = [];
  for (let t = 0; t <= 4; t++) {
    const value = BigInt(Math.round((Number(max) * t) / 4));
    const yy = f(y(value));
    grid.push(`<line class="grid" x1="${left}" x2="${W - right}" y1="${yy}" y2="${yy}"/><text class="tick" x="${left - 6}" y="${yy}" text-anchor="end" dominant-baseline="middle">${escape(usdShort(value))}</text>`);
  }
  const ticks = buckets.length <= 1 ? [0] : [...new Set([0, Math.floor((buckets.length - 1) / 2), buckets.length - 1])];
  for (const i of ticks) {
    const anchor = buckets.length <= 1 ? "middle" : i === 0 ? "start" : i === buckets.length - 1 ? "end" : "middle";
    grid.push(`<text class="tick" x="${f(x(i))}" y="${H - bottom + 18}" text-anchor="${anchor}">${escape(bucketLabel(buckets[i] ?? ""))}</text>`);
  }
  const paths = series.map((s, index) => {
    const coords = buckets.map((bucket, i) => [x(i), y(s.points.get(bucket) ?? 0n)] as const);
    const d = coords.map(([cx, cy], i) => `${i === 0 ? "M" : "L"}${f(cx)},${f(cy)}`).join(" ");
    const dots = buckets.length <= 60
      ? coords.map(([cx, cy], i) => `<circle cx="${f(cx)}" cy="${f(cy)}" r="3"><title>${escape(`${s.label}, ${bucketLabel(buckets[i]!)}: ${usdExact(s.points.get(buckets[i]!) ?? 0n)} USD`)}</title></circle>`).join("")
      : "";
    return `<g class="series" data-series="${index}" data-label="${escape(s.label)}" style="--c:${s.color}"><path d="${d}"/>${dots}</g>`;
  });
  return `<svg id="chart" viewBox="0 0 ${W} ${H}" role="img" aria-label="Spend per ${tally.bucketUnit} per group" data-unit="${tally.bucketUnit}" data-buckets="${buckets.length}">
<g class="axes">${grid.join("")}<line class="axis" x1="${left}" x2="${W - right}" y1="${H - bottom}" y2="${H - bottom}"/></g>
${paths.join("\n")}
</svg>`;
}

function bucketLabel(bucket: string): string {
  return bucket.length === 13 ? `${bucket.replace("T", " ")}:00` : bucket;
}

function bars(title: string, id: string, entries: Array<[string, NanoSum]>, empty: string): string {
  const top = entries
    .map(([name, sum]) => [name, sum.value] as const)
    .sort((a, b) => (b[1] > a[1] ? 1 : b[1] < a[1] ? -1 : a[0].localeCompare(b[0])))
    .slice(0, 10);
  const max = top[0]?.[1] ?? 0n;
  const items = top.map(([name, nano]) => {
    const width = max === 0n ? 0 : Math.max(0.5, (Number(nano) / Number(max)) * 100);
    return `<li><span class="name">${escape(name)}</span><span class="bar"><span style="width:${width.toFixed(1)}%"></span></span><span class="usd" data-nano="${nano}">${escape(usdExact(nano))}</span></li>`;
  });
  return `<section class="card"><h2>${escape(title)}</h2>${items.length ? `<ol id="${id}" class="bars">${items.join("")}</ol>` : `<p class="muted">${escape(empty)}</p>`}</section>`;
}

const CSS = `
:root{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:#111827;background:#f9fafb}
body{margin:0 auto;padding:24px;max-width:1100px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:15px;margin:0 0 12px;color:#374151}
.muted{color:#6b7280;font-size:13px}
.cards{display:grid;grid-template-columns:repeat(4,1fr);gap:12px;margin:16px 0}
.card{background:#fff;border:1px solid #e5e7eb;border-radius:8px;padding:14px 16px}
.stat .v{font-size:20px;font-weight:600;font-variant-numeric:tabular-nums}.stat .k{font-size:12px;color:#6b7280}
.grid2{display:grid;grid-template-columns:1fr 1fr;gap:12px;margin:12px 0}
#chart{width:100%;height:auto}#chart .grid{stroke:#e5e7eb}#chart .axis{stroke:#9ca3af}
#chart .tick{font-size:11px;fill:#6b7280}
#chart .series path{fill:none;stroke:var(--c);stroke-width:2}#chart .series circle{fill:var(--c)}
#chart .series.off{display:none}
.legend{display:flex;flex-wrap:wrap;gap:6px 14px;list-style:none;padding:0;margin:8px 0 0;font-size:13px}
.legend li{cursor:pointer;user-select:none}.legend li.off{opacity:.35}
.legend i{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:6px;background:var(--c)}
.bars{list-style:none;padding:0;margin:0;font-size:13px}
.bars li{display:grid;grid-template-columns:minmax(0,1.3fr) 1fr auto;gap:8px;align-items:center;margin:4px 0}
.bars .name{overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.bars .bar{background:#eef2ff;border-radius:3px;height:10px}.bars .bar span{display:block;height:10px;background:#6366f1;border-radius:3px}
.bars .usd{font-variant-numeric:tabular-nums}
table{border-collapse:collapse;width:100%;font-size:13px;background:#fff}
th,td{padding:6px 10px;border-bottom:1px solid #e5e7eb;text-align:left;white-space:nowrap}
th{cursor:pointer;background:#f3f4f6;position:sticky;top:0}td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
tfoot td{font-weight:600;border-top:2px solid #9ca3af}
`;

const JS = `
(function(){
  var svg=document.getElementById("chart");
  document.querySelectorAll(".legend li").forEach(function(li){
    li.addEventListener("click",function(){
      var g=svg&&svg.querySelector('.series[data-series="'+li.dataset.series+'"]');
      li.classList.toggle("off");if(g)g.classList.toggle("off");
    });
  });
  var table=document.getElementById("groups");
  if(table){
    var body=table.tBodies[0];
    table.querySelectorAll("thead th").forEach(function(th,col){
      th.addEventListener("click",function(){
        var numeric=th.classList.contains("n"),dir=th.dataset.dir==="desc"?"asc":"desc";
        table.querySelectorAll("thead th").forEach(function(o){delete o.dataset.dir});th.dataset.dir=dir;
        var rows=Array.prototype.slice.call(body.rows);
        rows.sort(function(a,b){
          var x=a.cells[col].dataset.v||a.cells[col].textContent,y=b.cells[col].dataset.v||b.cells[col].textContent,o;
          if(numeric){var bx=BigInt(x),by=BigInt(y);o=bx<by?-1:bx>by?1:0}else o=x.localeCompare(y);
          return dir==="asc"?o:-o;
        });
        rows.forEach(function(r){body.appendChild(r)});
      });
    });
  }
  document.documentElement.dataset.ready="1";
})();
`;

/** One self-contained HTML page (inline CSS, JS and SVG; nothing loaded from the network). */
export function html(tally: Tally, meta: { files: readonly string[]; since?: string | undefined; until?: string | undefined; generatedAt: string }): string {
  const by = tally.options.by;
  const rows = sortedGroups(tally);
  const series = chartSeries(tally, rows);
  const total = tally.total.cost.value;
  const period = tally.first ? `${tally.first} – ${tally.last}` : "no calls";
  const filter = [meta.since ? `since ${meta.since}` : "", meta.until ? `until ${meta.until}` : ""].filter(Boolean).join(", ");
  const headers = [...by.map((name) => `<th>${escape(name)}</th>`), ...COLUMNS.map((name) => `<th class="n">${escape(name)}</th>`)];
  const numCells = (row: GroupTotals) => {
    const nano = row.cost.value;
    return [row.calls, row.heldCalls, row.inputTokens, row.outputTokens]
      .map((n) => `<td class="n" data-v="${n}">${n.toLocaleString("en-US")}</td>`)
      .concat([`<td class="n" data-v="${nano}">${usdExact(nano)}</td>`, `<td class="n" data-v="${nano}">${nano}</td>`]);
  };
  const body = rows.map((row) => `<tr>${row.values.map((v) => `<td>${escape(v)}</td>`).join("")}${numCells(row).join("")}</tr>`);
  const foot = `<tr data-total-nano="${total}">${by.map((_, i) => `<td>${i === 0 ? "total" : ""}</td>`).join("")}${numCells(tally.total).join("")}</tr>`;
  const legend = series.map((s, i) => `<li data-series="${i}" style="--c:${s.color}"><i></i>${escape(s.label)}</li>`).join("");
  const stat = (k: string, v: string, id: string) => `<div class="card stat"><div class="v" id="${id}">${escape(v)}</div><div class="k">${escape(k)}</div></div>`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="generator" content="langchain-metered report">
<title>Spend report · ${escape(usdExact(total))} USD</title>
<style>${CSS}</style>
</head>
<body>
<h1>Spend report</h1>
<p class="muted"><span title="${escape(meta.files.join("\n"))}">${escape(meta.files.map((file) => basename(file)).join(", "))}</span> · ${escape(period)}${filter ? ` · ${escape(filter)}` : ""} · grouped by ${escape(by.join(", "))} · generated ${escape(meta.generatedAt)}</p>
<div class="cards">
${stat("total USD (exact)", usdExact(total), "total-usd")}
${stat("calls (last line per callId)", tally.total.calls.toLocaleString("en-US"), "total-calls")}
${stat("tokens in / out", `${tally.total.inputTokens.toLocaleString("en-US")} / ${tally.total.outputTokens.toLocaleString("en-US")}`, "total-tokens")}
${stat('calls ending "held" (worst case)', tally.total.heldCalls.toLocaleString("en-US"), "total-held")}
</div>
<section class="card"><h2>Spend per ${escape(tally.bucketUnit)} (UTC), per group${series.length > CHART_SERIES ? ` (top ${CHART_SERIES} and the rest)` : ""}</h2>
${chart(tally, series)}
<ul class="legend">${legend}</ul>
</section>
<div class="grid2">
${bars("Top models", "top-models", [...tally.models], "No calls.")}
${bars("Top tenants", "top-tenants", [...tally.tenants], "No tenant:… quota keys in the log.")}
</div>
<section class="card"><h2>By ${escape(by.join(", "))}</h2>
<table id="groups"><thead><tr>${headers.join("")}</tr></thead>
<tbody>
${body.join("\n")}
</tbody>
<tfoot>${foot}</tfoot></table>
</section>
<script>${JS}</script>
</body>
</html>
`;
}
