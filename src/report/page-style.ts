/** The report page's style sheet (inlined: the page loads nothing). */
export const CSS = `
:root { --fg:#1d2329; --muted:#69737d; --line:#e4e7eb; --bg:#f6f7f9; --card:#fff; --pass:#1a7f37; --warn:#9a6700; --fail:#cf222e; }
* { box-sizing: border-box; }
body { margin:0; background:var(--bg); color:var(--fg); font:14px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
header { background:#1f2937; color:#f3f4f6; padding:22px 32px 14px; }
header h1 { margin:0 0 4px; font-size:22px; font-weight:650; }
header .sub { color:#c5cbd3; margin:0 0 10px; }
header .live code { background:#374151; color:#f3f4f6; padding:1px 6px; border-radius:4px; }
header .live a { color:#c9dcff; }
figure.example.resisted { border-color:#b7dfc2; }
nav a { color:#c9dcff; margin-right:16px; text-decoration:none; font-size:13px; }
nav a:hover { text-decoration:underline; }
main { max-width:1280px; margin:0 auto; padding:8px 32px 40px; }
section { margin-top:26px; }
h2 { font-size:18px; margin:0 0 12px; padding-bottom:6px; border-bottom:1px solid var(--line); }
h3 { font-size:15px; margin:18px 0 8px; }
h4 { font-size:13px; margin:14px 0 4px; }
code, pre { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace; font-size:12.5px; }
pre { background:#fff; border:1px solid var(--line); border-radius:6px; padding:10px 12px; margin:4px 0 8px; white-space:pre-wrap; word-break:break-word; }
pre.cmd { background:#f0f3f6; }
pre.cmd .w { white-space:nowrap; }
.charts + .table-wrap { margin-top:14px; }
.muted { color:var(--muted); } .small { font-size:12px; font-weight:normal; } .nowrap { white-space:nowrap; }
.note, .caption { color:var(--muted); font-size:12.5px; margin:6px 0; }
.empty { color:var(--muted); font-style:italic; margin:8px 0; }
.warning { color:var(--warn); font-size:13px; margin:4px 0; }
.swatch { display:inline-block; width:11px; height:11px; border-radius:3px; margin-right:7px; vertical-align:-1px; }
.players label { display:block; font-size:12px; color:var(--muted); } .players audio { height:28px; width:240px; vertical-align:middle; }
.cards { display:grid; grid-template-columns:repeat(auto-fill, minmax(270px, 1fr)); gap:14px; margin-bottom:16px; }
.card { background:var(--card); border:1px solid var(--line); border-top:4px solid #999; border-radius:8px; padding:12px 14px; }
.card-title { font-weight:650; font-size:15px; }
.metrics { display:flex; gap:18px; margin:10px 0 6px; }
.metric { flex:1; min-width:0; }
.metric .value { font-size:26px; font-weight:680; line-height:1.1; font-variant-numeric:tabular-nums; }
.metric .label { color:var(--muted); font-size:12px; margin:2px 0 5px; }
.meter { height:6px; background:#eceff2; border-radius:3px; overflow:hidden; }
.meter span { display:block; height:100%; border-radius:3px; }
.badges { margin-top:8px; }
.badge { display:inline-block; font-size:11px; font-weight:700; letter-spacing:.02em; padding:1px 7px; border-radius:10px; margin-right:5px; color:#fff; vertical-align:1px; }
.badge.pass { background:var(--pass); } .badge.warn { background:#bf8700; } .badge.fail { background:var(--fail); } .badge.unknown { background:#6e7781; }
.table-wrap { overflow-x:auto; }
table { border-collapse:collapse; background:#fff; border:1px solid var(--line); font-size:13px; }
th, td { padding:6px 10px; border-bottom:1px solid var(--line); text-align:left; vertical-align:top; }
thead th { background:#f0f2f4; font-weight:600; font-size:12px; }
td.num, th.num { text-align:right; font-variant-numeric:tabular-nums; }
td.best { font-weight:700; }
.charts { display:flex; flex-wrap:wrap; gap:16px; }
figure { margin:0; }
figure.chart { background:#fff; border:1px solid var(--line); border-radius:8px; padding:10px 12px; max-width:100%; }
figure.chart .svg { overflow-x:auto; }
figure.chart svg { display:block; max-width:none; }
figure.chart .caption { max-width:480px; }
figure.chart.missing { min-width:300px; }
.model-block { margin-bottom:18px; }
.repro { display:grid; grid-template-columns:minmax(0, 3fr) minmax(240px, 2fr); gap:16px; align-items:start; }
@media (max-width: 900px) { .repro { grid-template-columns:minmax(0, 1fr); } }
pre.json { font-size:12px; line-height:1.4; overflow:auto; }
.model-heading { display:flex; align-items:center; gap:2px; }
.model-heading .small { margin-left:8px; }
.examples { display:flex; flex-wrap:wrap; gap:10px; }
figure.example { background:#fff; border:1px solid var(--line); border-radius:6px; padding:6px; }
figure.example img { display:block; image-rendering:pixelated; }
.swapped-list { list-style:none; padding:0; } li.swapped { margin:6px 0; line-height:1.5; } li.swapped mark { background:#fde68a; padding:0 2px; } li.swapped del { color:#b91c1c; }
figure.example figcaption { font-size:12px; margin-top:4px; max-width:320px; }
.ok { color:var(--pass); } .bad { color:var(--fail); }
.finding { background:#fff; border:1px solid var(--line); border-left:4px solid #6e7781; border-radius:6px; padding:8px 12px; margin:8px 0; }
.finding.pass { border-left-color:var(--pass); } .finding.warn { border-left-color:#bf8700; } .finding.fail { border-left-color:var(--fail); }
.finding p { margin:4px 0 6px; }
table.evidence { font-size:12px; margin:2px 0 4px; }
table.evidence th { background:#f6f8fa; font-weight:600; white-space:nowrap; }
table.evidence th, table.evidence td { padding:3px 8px; }
table.evidence.inner { margin:0; border-color:#eef0f2; }
table.evidence.inner td { text-align:right; font-variant-numeric:tabular-nums; }
table.versions td, table.versions th { font-size:12px; }
details summary { cursor:pointer; font-weight:600; font-size:13px; margin-top:10px; }
ul.warnings { color:var(--warn); }
footer { color:var(--muted); font-size:12px; text-align:center; padding:20px; }
@media print { body { background:#fff; } header { background:#fff; color:#000; } nav { display:none; } figure.chart, .card { break-inside:avoid; } }
`;
