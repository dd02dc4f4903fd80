/**
 * The playground's compute worker: loads the models and detectors by URL, answers predictions and
 * runs attacks with alp's own code (the prebuilt alp.js bundle; the bundler maps the import below to
 * it). A worker, so the page stays responsive and can draw progress while an attack runs.
 */
import * as alp from '../browser/index.js';
import type { FromWorker, ModelOutput, PlaygroundManifest, ToWorker } from './protocol.js';

const { tf } = alp;

interface Loaded {
  name: string;
  model: alp.tf.LayersModel;
  f: alp.LogitsFn;
  detector: alp.ParsedDetectorFile | null;
}

let manifest: PlaygroundManifest | null = null;
let models: Loaded[] = [];

function send(m: FromWorker, transfer: Transferable[] = []): void {
  (self as unknown as { postMessage(m: unknown, t: Transferable[]): void }).postMessage(m, transfer);
}

async function init(manifestUrl: string, backend: string | null): Promise<void> {
  const base = new URL(manifestUrl, self.location.href);
  const order = backend === null ? undefined : [backend as alp.BrowserBackend];
  const choice = await alp.chooseBackend({ wasmPath: new URL('wasm/', base).href, ...(order !== undefined ? { order } : {}) });
  const res = await fetch(base.href);
  if (!res.ok) throw new alp.UserError(`${base.href}: expected the playground manifest, the server answered ${res.status}`);
  manifest = (await res.json()) as PlaygroundManifest;
  const warnings: string[] = [];
  models = [];
  for (const m of manifest.models) {
    // A user's graph model may take flat inputs or end in a softmax: put it behind the page's
    // [1, H, W, C] inputs and fetch its logits (a no-op for the models alp trains).
    const loaded = await alp.loadModelFromUrl(new URL(m.url, base).href, { stripSoftmax: true, ...(m.outputNode !== undefined ? { outputNode: m.outputNode } : {}) });
    const model = alp.adaptModel(loaded, manifest.shape, { source: m.name, dataName: manifest.dataset }).model;
    let detector: alp.ParsedDetectorFile | null = null;
    if (m.detectorUrl !== null) {
      try {
        detector = await alp.loadDetectorFromUrl(new URL(m.detectorUrl, base).href);
      } catch (e) {
        warnings.push(`${m.name}: detector not used: ${(e as Error).message}`);
      }
    }
    models.push({ name: m.name, model, f: alp.logitsOf(model), detector });
  }
  send({ type: 'ready', backend: choice.backend, skipped: choice.skipped.map((s) => `${s.backend}: ${s.reason}`), models: models.map((m) => m.name), warnings });
}

function inputTensor(input: Float32Array): alp.tf.Tensor4D {
  const [h, w, c] = (manifest as PlaygroundManifest).shape;
  return tf.tensor4d(input, [1, h, w, c]);
}

function predictAll(input: Float32Array): ModelOutput[] {
  const x = inputTensor(input);
  try {
    return models.map((m) => {
      const { logits, probs } = tf.tidy(() => {
        const z = m.f(x);
        return { logits: Array.from(z.dataSync()), probs: Array.from(tf.softmax(z).dataSync()) };
      });
      let prediction = 0;
      for (let k = 1; k < logits.length; k++) if ((logits[k] as number) > (logits[prediction] as number)) prediction = k;
      let detector: ModelOutput['detector'] = null;
      if (m.detector !== null) {
        const score = m.detector.detector.score(m.f, x)[0] as number;
        const { threshold, fprTarget } = m.detector.calibration;
        detector = { name: m.detector.detector.name, score, threshold, flagged: score > threshold, fprTarget };
      }
      return { model: m.name, logits, probs, prediction, detector };
    });
  } finally {
    x.dispose();
  }
}

/** Forward passes the attack will make, for the progress bar (an estimate for APGD and Square's early stop). */
function expectedCalls(attack: string, steps: number): number {
  return attack === 'fgsm' ? 3 : attack === 'square' ? steps + 1 : steps + 3;
}

function runAttack(msg: Extract<ToWorker, { type: 'attack' }>): void {
  const target = models.find((m) => m.name === msg.model);
  if (target === undefined) throw new alp.UserError(`attack: no model named '${msg.model}' (have ${models.map((m) => m.name).join(', ')})`);
  const threat: alp.ThreatModel = { norm: msg.norm, eps: msg.eps };
  alp.validateThreatModel(threat, msg.input.length, "ε");
  const attack: alp.Attack =
    msg.attack === 'fgsm' ? new alp.Fgsm({ threat })
    : msg.attack === 'pgd' ? new alp.Pgd({ threat, steps: msg.steps, restarts: 1, seed: msg.seed })
    : msg.attack === 'apgd' ? new alp.Apgd({ threat, steps: msg.steps, loss: 'ce', seed: msg.seed })
    : new alp.Square({ threat, queries: msg.steps, seed: msg.seed });
  const total = expectedCalls(msg.attack, msg.steps);
  let calls = 0;
  let last = 0;
  // Counting forward passes through the model is the attack's progress; posting is cheap and the
  // page, on its own thread, repaints while the attack keeps computing here.
  const counted: alp.LogitsFn = (x) => {
    calls++;
    const now = performance.now();
    if (now - last > 50) {
      last = now;
      send({ type: 'progress', id: msg.id, done: Math.min(calls, total), total });
    }
    return target.f(x);
  };
  const x = inputTensor(msg.input);
  const labels = tf.tensor1d([msg.label], 'int32');
  const targets = msg.target === null ? undefined : tf.tensor1d([msg.target], 'int32');
  const t0 = performance.now();
  try {
    // The runner clips to the ε-ball and box and decides success on a fresh forward pass, as in Node.
    const r = alp.runAttack(attack, counted, x, labels, targets !== undefined ? { targets } : {});
    const adversarial = new Float32Array(r.adversarial.dataSync() as Float32Array);
    r.adversarial.dispose();
    send({ type: 'progress', id: msg.id, done: total, total });
    send({ type: 'attack', id: msg.id, adversarial, success: r.success[0] === 1, seconds: (performance.now() - t0) / 1000, attack: attack.name }, [adversarial.buffer]);
  } finally {
    tf.dispose([x, labels, ...(targets !== undefined ? [targets] : [])]);
  }
}

self.onmessage = (ev: MessageEvent<ToWorker>) => {
  const msg = ev.data;
  const id = msg.type === 'init' ? null : msg.id;
  const fail = (e: unknown): void => send({ type: 'error', id, message: e instanceof Error ? e.message : String(e) });
  try {
    if (msg.type === 'init') init(msg.manifestUrl, msg.backend).catch(fail);
    else if (msg.type === 'predict') send({ type: 'predict', id: msg.id, outputs: predictAll(msg.input) });
    else runAttack(msg);
  } catch (e) {
    fail(e);
  }
};
