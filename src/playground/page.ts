/** The playground's HTML page: structure and style only; ui.ts fills it in. Every asset is local. */
export function playgroundHtml(title: string): string {
  const esc = title.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc}</title>
<link rel="icon" href="data:,">
<style>
  :root { --fg: #1d232a; --muted: #5d6875; --line: #d9dee4; --bg: #f6f7f9; --ok: #1a7f37; --bad: #c62828; --accent: #2456c7; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg); }
  header { padding: 14px 22px; background: #fff; border-bottom: 1px solid var(--line); display: flex; gap: 18px; align-items: baseline; flex-wrap: wrap; }
  header h1 { font-size: 18px; margin: 0; }
  header .meta { color: var(--muted); }
  main { display: grid; grid-template-columns: 320px 1fr; gap: 18px; padding: 18px 22px; }
  section { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 14px 16px; }
  h2 { font-size: 14px; margin: 0 0 10px; text-transform: uppercase; letter-spacing: .04em; color: var(--muted); }
  label { display: block; margin: 8px 0 3px; font-weight: 600; }
  select, input[type=number] { width: 100%; padding: 4px 6px; font: inherit; }
  input[type=range] { width: 100%; }
  .row { display: flex; gap: 8px; align-items: center; }
  .row > * { flex: 1; }
  button { font: inherit; padding: 6px 12px; border-radius: 6px; border: 1px solid var(--line); background: #fff; cursor: pointer; }
  button.primary { background: var(--accent); color: #fff; border-color: var(--accent); font-weight: 600; }
  button:disabled { opacity: .5; cursor: default; }
  progress { width: 100%; height: 10px; margin-top: 10px; }
  #status { color: var(--muted); margin-top: 6px; min-height: 1.4em; }
  #status.error { color: var(--bad); }
  .images { display: flex; gap: 18px; flex-wrap: wrap; }
  figure { margin: 0; text-align: center; }
  figure canvas { border: 1px solid var(--line); image-rendering: pixelated; background: #000; }
  figcaption { color: var(--muted); margin-top: 4px; font-size: 12px; }
  #draw { touch-action: none; cursor: crosshair; }
  table { border-collapse: collapse; width: 100%; margin-top: 12px; }
  th, td { text-align: left; padding: 6px 8px; border-top: 1px solid var(--line); vertical-align: top; }
  th { color: var(--muted); font-weight: 600; font-size: 12px; }
  .pred { font-weight: 700; font-size: 15px; }
  .pred.wrong { color: var(--bad); }
  .pred.right { color: var(--ok); }
  .bars { display: grid; grid-template-columns: auto 1fr 44px; gap: 1px 6px; font-size: 11px; align-items: center; margin-top: 4px; }
  .bar { height: 8px; background: #c9d3e3; border-radius: 2px; }
  .bar.top { background: var(--accent); }
  .susp.flag { color: var(--bad); font-weight: 700; }
  .susp.ok { color: var(--ok); }
  .notice { padding: 10px 12px; background: #fff8e1; border: 1px solid #f0d48a; border-radius: 6px; }
  .hidden { display: none !important; }
</style>
</head>
<body>
<header><h1>${esc}</h1><span class="meta" id="meta">loading…</span></header>
<main>
  <section id="controls">
    <h2>Input</h2>
    <div id="image-input">
      <label for="sample">Test example</label>
      <div class="row"><button id="prev" type="button">◀</button><input id="sample" type="number" min="0" value="0"><button id="next" type="button">▶</button></div>
      <div id="draw-box">
        <label>…or draw (then “use drawing”)</label>
        <canvas id="draw" width="168" height="168"></canvas>
        <div class="row"><button id="use-drawing" type="button">use drawing</button><button id="clear-drawing" type="button">clear</button></div>
      </div>
      <label for="image-file">…or an image file of yours</label>
      <input id="image-file" type="file" accept="image/*">
    </div>
    <h2 style="margin-top:16px">Attack</h2>
    <label for="attack">Attack</label>
    <select id="attack"></select>
    <label for="target-model">Attack this model (white box)</label>
    <select id="target-model"></select>
    <label for="norm">Norm</label>
    <select id="norm"><option value="linf">L∞</option><option value="l2">L2</option></select>
    <label for="eps">ε = <span id="eps-value"></span></label>
    <input id="eps" type="range" min="0" max="1" step="0.005">
    <label for="steps">Steps (Square: queries)</label>
    <input id="steps" type="number" min="1" max="5000" value="40">
    <label for="target">Target class</label>
    <select id="target"></select>
    <div style="margin-top:12px"><button id="run" class="primary" type="button" disabled>Run attack</button></div>
    <progress id="progress" max="1" value="0"></progress>
    <div id="status" data-state="loading">loading models…</div>
  </section>
  <section id="results">
    <h2>Clean vs adversarial</h2>
    <div id="text-notice" class="notice hidden"></div>
    <div class="images">
      <figure><canvas id="clean" width="168" height="168"></canvas><figcaption>clean</figcaption><div class="audio hidden"><button type="button" data-play="clean">▶ play clean</button></div></figure>
      <figure><canvas id="adv" width="168" height="168"></canvas><figcaption>adversarial</figcaption><div class="audio hidden"><button type="button" data-play="adv">▶ play adversarial</button></div></figure>
      <figure><canvas id="delta" width="168" height="168"></canvas><figcaption id="delta-caption">perturbation (magnified)</figcaption></figure>
    </div>
    <table id="models"><thead><tr><th>model</th><th>clean input</th><th>adversarial input</th></tr></thead><tbody></tbody></table>
  </section>
</main>
<script type="module" src="playground-ui.js"></script>
</body>
</html>
`;
}
