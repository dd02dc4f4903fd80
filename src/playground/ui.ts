/**
 * The playground page's script: reads playground.json and the test inputs, draws them, and asks the
 * compute worker (worker.ts) for predictions and attacks. `window.alpPlayground` exposes the same
 * actions to scripts (the browser test drives the page through the DOM and reads logits through it).
 */
import { decodeImageFile } from '../browser/decode-image.js';
import { MANIFEST_FILE, PLAYGROUND_ATTACKS, type FromWorker, type PlaygroundAttack, type ModelOutput, type PlaygroundManifest, type ToWorker } from './protocol.js';

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;

let manifest: PlaygroundManifest;
let samples: Float32Array = new Float32Array(0);
let size = 0;
let current: Float32Array = new Float32Array(0);
let currentLabel = 0;
let adversarial: Float32Array | null = null;
let nextId = 1;
const pending = new Map<number, { resolve: (m: FromWorker) => void; reject: (e: Error) => void }>();

const params = new URLSearchParams(location.search);
const worker = new Worker(new URL('playground-worker.js', location.href), { type: 'module' });

function call(msg: ToWorker, transfer: Transferable[] = []): Promise<FromWorker> {
  return new Promise((resolve, reject) => {
    if (msg.type !== 'init') pending.set(msg.id, { resolve, reject });
    worker.postMessage(msg, transfer);
  });
}

let readyResolve: (m: Extract<FromWorker, { type: 'ready' }>) => void = () => undefined;
let readyReject: (e: Error) => void = () => undefined;
const ready = new Promise<Extract<FromWorker, { type: 'ready' }>>((res, rej) => {
  readyResolve = res;
  readyReject = rej;
});

worker.onmessage = (ev: MessageEvent<FromWorker>) => {
  const m = ev.data;
  if (m.type === 'ready') return readyResolve(m);
  if (m.type === 'progress') {
    const p = $<HTMLProgressElement>('progress');
    p.value = m.done / m.total;
    setStatus('running', `attacking… ${Math.round((100 * m.done) / m.total)}%`);
    return;
  }
  if (m.type === 'error' && m.id === null) return readyReject(new Error(m.message));
  if (m.id === null) return;
  const p = pending.get(m.id);
  if (p === undefined) return;
  pending.delete(m.id);
  if (m.type === 'error') p.reject(new Error(m.message));
  else p.resolve(m);
};

function setStatus(state: string, text: string): void {
  const s = $('status');
  s.dataset['state'] = state;
  s.textContent = text;
  s.classList.toggle('error', state === 'error');
}

const className = (k: number): string => manifest.classNames[k] ?? String(k);

// ---------------------------------------------------------------------------------------------------
// drawing inputs

function drawImage(canvas: HTMLCanvasElement, v: Float32Array, map: (x: number) => number = (x) => x): void {
  const [h, w, c] = manifest.shape;
  const ctx = canvas.getContext('2d') as CanvasRenderingContext2D;
  const img = ctx.createImageData(w, h);
  for (let p = 0; p < h * w; p++) {
    for (let k = 0; k < 3; k++) img.data[p * 4 + k] = Math.round(255 * Math.min(1, Math.max(0, map(v[p * c + (c === 3 ? k : 0)] as number))));
    img.data[p * 4 + 3] = 255;
  }
  const tmp = document.createElement('canvas');
  tmp.width = w;
  tmp.height = h;
  (tmp.getContext('2d') as CanvasRenderingContext2D).putImageData(img, 0, 0);
  ctx.imageSmoothingEnabled = false;
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  ctx.drawImage(tmp, 0, 0, canvas.width, canvas.height);
}

/** Audio: the [0,1] input v is the waveform 2v − 1; `scale` magnifies (for the perturbation). */
function drawWave(canvas: HTMLCanvasElement, v: Float32Array, centre = 0.5, scale = 1): void {
  const ctx = canvas.getContext('2d') as CanvasRenderingContext2D;
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  ctx.strokeStyle = '#2456c7';
  ctx.beginPath();
  const n = v.length;
  const yOf = (i: number): number => canvas.height / 2 - ((((v[i] as number) - centre) * 2 * scale) * canvas.height) / 2;
  if (n <= canvas.width) {
    // Fewer samples than pixels: a line through every sample.
    for (let i = 0; i < n; i++) {
      const x = (i * (canvas.width - 1)) / Math.max(1, n - 1);
      if (i === 0) ctx.moveTo(x, yOf(i));
      else ctx.lineTo(x, yOf(i));
    }
  } else {
    // More samples than pixels: each column spans its samples' min..max.
    for (let x = 0; x < canvas.width; x++) {
      let lo = Infinity, hi = -Infinity;
      for (let i = Math.floor((x * n) / canvas.width); i < Math.floor(((x + 1) * n) / canvas.width); i++) {
        lo = Math.min(lo, yOf(i));
        hi = Math.max(hi, yOf(i));
      }
      ctx.moveTo(x + 0.5, lo);
      ctx.lineTo(x + 0.5, hi + 1);
    }
  }
  ctx.stroke();
}

function show(canvas: HTMLCanvasElement, v: Float32Array): void {
  if (manifest.modality === 'audio') drawWave(canvas, v);
  else drawImage(canvas, v);
}

function showDelta(): void {
  const canvas = $<HTMLCanvasElement>('delta');
  const cap = $('delta-caption');
  if (adversarial === null) {
    const ctx = canvas.getContext('2d') as CanvasRenderingContext2D;
    ctx.fillStyle = manifest.modality === 'audio' ? '#fff' : '#808080';
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    cap.textContent = 'perturbation (magnified)';
    return;
  }
  const d = new Float32Array(current.length);
  let m = 0;
  for (let i = 0; i < d.length; i++) {
    d[i] = (adversarial[i] as number) - (current[i] as number);
    m = Math.max(m, Math.abs(d[i] as number));
  }
  const k = m > 0 ? 0.5 / m : 1;
  if (manifest.modality === 'audio') drawWave(canvas, d, 0, k * 2);
  else drawImage(canvas, d, (x) => 0.5 + x * k);
  cap.textContent = `perturbation ×${(k * 2).toFixed(1)} (max |δ| = ${m.toFixed(3)})`;
}

function play(v: Float32Array): void {
  const rate = manifest.sampleRate ?? 8000;
  const ac = new AudioContext();
  const buf = ac.createBuffer(1, v.length, rate);
  const ch = buf.getChannelData(0);
  for (let i = 0; i < v.length; i++) ch[i] = 2 * (v[i] as number) - 1;
  const src = ac.createBufferSource();
  src.buffer = buf;
  src.connect(ac.destination);
  src.start();
}

// ---------------------------------------------------------------------------------------------------
// results

function bars(o: ModelOutput): string {
  const order = o.probs.map((p, k) => [p, k] as const).sort((a, b) => b[0] - a[0]).slice(0, 3);
  return `<div class="bars">${order.map(([p, k], i) =>
    `<span>${escapeHtml(className(k))}</span><div class="bar${i === 0 ? ' top' : ''}" style="width:${Math.max(1, p * 100).toFixed(1)}%"></div><span>${(100 * p).toFixed(1)}%</span>`).join('')}</div>`;
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
}

function cell(o: ModelOutput | undefined, kind: string): string {
  if (o === undefined) return '<td>—</td>';
  const right = o.prediction === currentLabel;
  const det = o.detector === null ? '<div class="susp">no calibrated detector</div>'
    : `<div class="susp ${o.detector.flagged ? 'flag' : 'ok'}">${escapeHtml(o.detector.name)}: suspicion ${o.detector.score.toFixed(3)} ${o.detector.flagged ? '>' : '≤'} threshold ${o.detector.threshold.toFixed(3)} → ${o.detector.flagged ? 'REJECT' : 'accept'}</div>`;
  return `<td data-kind="${kind}" data-prediction="${o.prediction}" data-flagged="${o.detector?.flagged ?? ''}"><div class="pred ${right ? 'right' : 'wrong'}">${escapeHtml(className(o.prediction))} (${(100 * (o.probs[o.prediction] as number)).toFixed(1)}%)</div>${bars(o)}${det}</td>`;
}

function renderTable(clean: ModelOutput[], adv: ModelOutput[] | null): void {
  const body = $('models').querySelector('tbody') as HTMLElement;
  body.innerHTML = clean.map((c) => {
    const a = adv?.find((o) => o.model === c.model);
    const m = manifest.models.find((x) => x.name === c.model);
    return `<tr data-model="${escapeHtml(c.model)}"><td><b>${escapeHtml(c.model)}</b>${m?.method && m.method !== c.model ? `<div class="meta">trained with ${escapeHtml(m.method)}</div>` : ''}</td>${cell(c, 'clean')}${adv === null ? '<td data-kind="adversarial">run an attack</td>' : cell(a, 'adversarial')}</tr>`;
  }).join('');
}

async function predict(input: Float32Array): Promise<ModelOutput[]> {
  const r = await call({ type: 'predict', id: nextId++, input: input.slice() });
  if (r.type !== 'predict') throw new Error(`unexpected reply ${r.type}`);
  return r.outputs;
}

let lastClean: ModelOutput[] = [];

async function setInput(v: Float32Array, label: number): Promise<void> {
  current = v;
  currentLabel = label;
  adversarial = null;
  show($<HTMLCanvasElement>('clean'), v);
  const adv = $<HTMLCanvasElement>('adv');
  const ctx = adv.getContext('2d') as CanvasRenderingContext2D;
  ctx.fillStyle = '#eee';
  ctx.fillRect(0, 0, adv.width, adv.height);
  showDelta();
  lastClean = await predict(v);
  renderTable(lastClean, null);
}

async function selectSample(i: number): Promise<void> {
  const s = manifest.samples;
  if (s === null) return;
  const k = Math.max(0, Math.min(s.count - 1, Math.floor(i)));
  $<HTMLInputElement>('sample').value = String(k);
  await setInput(samples.slice(k * size, (k + 1) * size), s.labels[k] as number);
  setStatus('idle', `example ${k}: true class ${className(currentLabel)}`);
}

async function runAttack(): Promise<{ success: boolean; seconds: number; attack: string; clean: ModelOutput[]; adversarial: ModelOutput[] }> {
  const target = $<HTMLSelectElement>('target').value;
  $<HTMLButtonElement>('run').disabled = true;
  $<HTMLProgressElement>('progress').value = 0;
  setStatus('running', 'attacking…');
  try {
    const r = await call({
      type: 'attack', id: nextId++, input: current.slice(), label: currentLabel,
      model: $<HTMLSelectElement>('target-model').value,
      attack: $<HTMLSelectElement>('attack').value as PlaygroundAttack,
      norm: $<HTMLSelectElement>('norm').value as 'linf' | 'l2',
      eps: Number($<HTMLInputElement>('eps').value), steps: Number($<HTMLInputElement>('steps').value),
      target: target === '' ? null : Number(target), seed: 1,
    });
    if (r.type !== 'attack') throw new Error(`unexpected reply ${r.type}`);
    adversarial = r.adversarial;
    show($<HTMLCanvasElement>('adv'), r.adversarial);
    showDelta();
    const advOut = await predict(r.adversarial);
    renderTable(lastClean, advOut);
    setStatus('done', `${r.attack}: ${r.success ? 'succeeded' : 'failed'} against ${$<HTMLSelectElement>('target-model').value} in ${r.seconds.toFixed(2)} s`);
    return { success: r.success, seconds: r.seconds, attack: r.attack, clean: lastClean, adversarial: advOut };
  } catch (e) {
    setStatus('error', (e as Error).message);
    throw e;
  } finally {
    $<HTMLButtonElement>('run').disabled = false;
  }
}

// ---------------------------------------------------------------------------------------------------
// drawing a digit

function setupDrawing(): void {
  const c = $<HTMLCanvasElement>('draw');
  const ctx = c.getContext('2d') as CanvasRenderingContext2D;
  const clear = (): void => {
    ctx.fillStyle = '#000';
    ctx.fillRect(0, 0, c.width, c.height);
  };
  clear();
  let down = false;
  const at = (e: PointerEvent): [number, number] => {
    const r = c.getBoundingClientRect();
    return [((e.clientX - r.left) * c.width) / r.width, ((e.clientY - r.top) * c.height) / r.height];
  };
  c.addEventListener('pointerdown', (e) => {
    down = true;
    const [x, y] = at(e);
    ctx.beginPath();
    ctx.moveTo(x, y);
  });
  c.addEventListener('pointermove', (e) => {
    if (!down) return;
    const [x, y] = at(e);
    ctx.strokeStyle = '#fff';
    ctx.lineWidth = c.width / 11;
    ctx.lineCap = 'round';
    ctx.lineTo(x, y);
    ctx.stroke();
  });
  window.addEventListener('pointerup', () => {
    down = false;
  });
  $('clear-drawing').addEventListener('click', clear);
  // A user's own image, decoded by the browser as the Node loader decodes it (browser/decode-image.ts).
  $<HTMLInputElement>('image-file').addEventListener('change', (e) => {
    const file = (e.target as HTMLInputElement).files?.[0];
    if (file === undefined) return;
    void decodeImageFile(file, manifest.shape, file.name)
      .then(async (v) => {
        const outs = await predict(v);
        await setInput(v, outs[0]?.prediction ?? 0);
        setStatus('idle', `${file.name}: taken to be a ${className(currentLabel)} (the first model's prediction)`);
      })
      .catch((err: unknown) => setStatus('error', (err as Error).message));
  });
  $('use-drawing').addEventListener('click', () => {
    const [h, w, ch] = manifest.shape;
    const tmp = document.createElement('canvas');
    tmp.width = w;
    tmp.height = h;
    const t = tmp.getContext('2d') as CanvasRenderingContext2D;
    t.drawImage(c, 0, 0, w, h);
    const px = t.getImageData(0, 0, w, h).data;
    const v = new Float32Array(h * w * ch);
    for (let p = 0; p < h * w; p++) for (let k = 0; k < ch; k++) v[p * ch + k] = (px[p * 4 + (ch === 3 ? k : 0)] as number) / 255;
    // A drawing has no label: take the first model's clean prediction as its class.
    void predict(v)
      .then((outs) => setInput(v, outs[0]?.prediction ?? 0))
      .then(() => setStatus('idle', `your drawing: taken to be a ${className(currentLabel)} (the first model's prediction)`));
  });
}

// ---------------------------------------------------------------------------------------------------

async function start(): Promise<void> {
  const res = await fetch(MANIFEST_FILE);
  if (!res.ok) throw new Error(`${MANIFEST_FILE}: the server answered ${res.status}`);
  manifest = (await res.json()) as PlaygroundManifest;
  size = manifest.shape[0] * manifest.shape[1] * manifest.shape[2];
  // The worker answers 'ready' (or an error) once its backend, models and detectors are loaded.
  void call({ type: 'init', manifestUrl: new URL(MANIFEST_FILE, location.href).href, backend: params.get('backend') });
  const r = await ready;
  $('meta').textContent = `${manifest.dataset} · ${manifest.models.length} model(s) · TF.js ${r.backend} backend${r.warnings.length > 0 ? ' · ' + r.warnings.join('; ') : ''}`;
  $('meta').dataset['backend'] = r.backend;
  if (manifest.modality === 'text') {
    const n = $('text-notice');
    n.classList.remove('hidden');
    n.textContent = 'Text models are not supported here: their attacks perturb word embeddings inside the model, not an input the page can show. Use `alp attack --model DIR` for the nearest-word read-back.';
    for (const id of ['controls', 'models']) $(id).classList.add('hidden');
    setStatus('unsupported', 'text models are not supported in the playground');
    return;
  }
  if (manifest.modality === 'audio') {
    for (const id of ['clean', 'adv', 'delta']) {
      const c = $<HTMLCanvasElement>(id);
      c.width = 320;
      c.height = 120;
      c.style.background = '#fff';
    }
    $('draw-box').classList.add('hidden');
    document.querySelectorAll('.audio').forEach((e) => e.classList.remove('hidden'));
    document.querySelectorAll<HTMLButtonElement>('[data-play]').forEach((b) => b.addEventListener('click', () => {
      const v = b.dataset['play'] === 'adv' ? adversarial : current;
      if (v !== null) play(v);
    }));
  } else if (manifest.shape[0] !== manifest.shape[1]) {
    $('draw-box').classList.add('hidden');
  }
  const sres = manifest.samples === null ? null : await fetch(manifest.samples.url);
  if (sres !== null) {
    if (!sres.ok) throw new Error(`${manifest.samples?.url}: the server answered ${sres.status}`);
    samples = new Float32Array(await sres.arrayBuffer());
  }
  $<HTMLSelectElement>('attack').innerHTML = PLAYGROUND_ATTACKS.map((a) => `<option value="${a}">${a.toUpperCase()}</option>`).join('');
  $<HTMLSelectElement>('target-model').innerHTML = manifest.models.map((m) => `<option>${escapeHtml(m.name)}</option>`).join('');
  $<HTMLSelectElement>('target').innerHTML = '<option value="">none (untargeted)</option>' + manifest.classNames.map((n, k) => `<option value="${k}">${escapeHtml(n)}</option>`).join('');
  const eps = $<HTMLInputElement>('eps');
  const norm = $<HTMLSelectElement>('norm');
  norm.value = manifest.defaults.norm;
  const setRange = (): void => {
    eps.max = norm.value === 'l2' ? '10' : '1';
    eps.step = norm.value === 'l2' ? '0.05' : '0.005';
  };
  setRange();
  eps.value = String(manifest.defaults.eps);
  $<HTMLInputElement>('steps').value = String(manifest.defaults.steps);
  const epsText = (): void => {
    $('eps-value').textContent = Number(eps.value).toFixed(3);
  };
  epsText();
  eps.addEventListener('input', epsText);
  norm.addEventListener('change', () => {
    setRange();
    epsText();
  });
  const sample = $<HTMLInputElement>('sample');
  sample.max = String((manifest.samples?.count ?? 1) - 1);
  sample.addEventListener('change', () => void selectSample(Number(sample.value)));
  $('prev').addEventListener('click', () => void selectSample(Number(sample.value) - 1));
  $('next').addEventListener('click', () => void selectSample(Number(sample.value) + 1));
  $('run').addEventListener('click', () => void runAttack().catch(() => undefined));
  setupDrawing();
  await selectSample(0);
  $<HTMLButtonElement>('run').disabled = false;
  setStatus('ready', `ready: example 0, true class ${className(currentLabel)}`);
}

const started = start().catch((e: unknown) => {
  setStatus('error', (e as Error).message);
  throw e;
});

(window as unknown as { alpPlayground: unknown }).alpPlayground = {
  started,
  selectSample,
  runAttack,
  /** Every model's outputs on test example i (or the current input). */
  predictSample: async (i?: number) => predict(i === undefined ? current : samples.slice(i * size, (i + 1) * size)),
};
