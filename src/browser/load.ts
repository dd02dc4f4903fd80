/**
 * Loading by URL, for pages: a TF.js Layers or graph model (model.json + weights beside it) and its calibrated
 * detector.json, or both as a guard. Failures name the URL and what was expected.
 */
import * as tf from '@tensorflow/tfjs';
import { parseDetectorFile, type ParsedDetectorFile } from '../detect/calibrate.js';
import { guard, type Guard, type GuardOptions } from '../detect/guard.js';
import { UserError } from '../util/errors.js';
import { graphLayerOf, graphModelFromArtifacts, isGraphArtifacts } from '../model/graph-model.js';

/** The detector.json URL beside a model.json URL. */
export function detectorUrlOf(modelUrl: string): string {
  return new URL('detector.json', new URL(modelUrl, globalThis.location?.href ?? 'http://localhost/')).href;
}

async function fetchJson(url: string): Promise<unknown> {
  let res: Response;
  try {
    res = await fetch(url);
  } catch (e) {
    throw new UserError(`${url}: could not fetch it: ${(e as Error).message}`);
  }
  if (!res.ok) throw new UserError(`${url}: expected a JSON file, the server answered ${res.status} ${res.statusText}`);
  const text = await res.text();
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new UserError(`${url}: expected JSON, could not parse it: ${(e as Error).message}`);
  }
}

/**
 * Loads a model from the URL of its model.json: a Layers model, or a graph model (what
 * tensorflowjs_converter writes) run through model/graph-model.ts, with `outputNode` choosing among a
 * graph's outputs and `stripSoftmax` fetching a graph's logits instead of its final softmax. Its
 * output must be logits.
 */
export async function loadModelFromUrl(modelUrl: string, o: { outputNode?: string; stripSoftmax?: boolean } = {}): Promise<tf.LayersModel> {
  let artifacts: tf.io.ModelArtifacts;
  try {
    artifacts = await (tf.io.http(modelUrl).load as NonNullable<tf.io.IOHandler['load']>)();
  } catch (e) {
    throw new UserError(`${modelUrl}: could not load a TF.js model from it: ${(e as Error).message}`);
  }
  if (isGraphArtifacts(artifacts)) {
    try {
      const model = graphModelFromArtifacts(artifacts, { source: modelUrl, ...(o.outputNode !== undefined ? { outputNode: o.outputNode } : {}) });
      // A converted classifier usually ends in its softmax; pages attack and show the logits.
      if (o.stripSoftmax === true) graphLayerOf(model)?.stripSoftmax();
      return model;
    } catch (e) {
      if (e instanceof UserError) throw e;
      throw new UserError(`${modelUrl}: could not build a model from the graph: ${(e as Error).message}`);
    }
  }
  if (o.outputNode !== undefined) throw new UserError(`${modelUrl}: outputNode is only for graph models; this is a Layers model`);
  try {
    return await tf.loadLayersModel(tf.io.fromMemory(artifacts));
  } catch (e) {
    throw new UserError(`${modelUrl}: could not load a TF.js Layers model from it: ${(e as Error).message}`);
  }
}

/**
 * Loads zoo model `name` (`alp zoo list`) from `base`, the URL of a copy of alp's zoo/ folder that the page
 * serves itself (e.g. `new URL('zoo/', location.href)`): the page needs no other host at run time.
 */
export async function loadZooModelFromUrl(name: string, base: string): Promise<tf.LayersModel> {
  if (!/^[a-z0-9][a-z0-9-]*$/.test(name)) throw new UserError(`zoo:${name}: expected a zoo model name (lower-case letters, digits, '-')`);
  const root = new URL(base.endsWith('/') ? base : `${base}/`, globalThis.location?.href ?? 'http://localhost/');
  return loadModelFromUrl(new URL(`${name}/model.json`, root).href);
}

/** Fetches and checks a detector.json (made by `alp detect calibrate`). */
export async function loadDetectorFromUrl(detectorUrl: string): Promise<ParsedDetectorFile> {
  return parseDetectorFile(await fetchJson(detectorUrl), detectorUrl);
}

/** A guard from a model.json URL and its detector.json (by default the one beside model.json). */
export async function loadGuardFromUrl(modelUrl: string, detectorUrl = detectorUrlOf(modelUrl), o: GuardOptions = {}): Promise<{ guard: Guard; model: tf.LayersModel; detector: ParsedDetectorFile }> {
  const detector = await loadDetectorFromUrl(detectorUrl);
  const model = await loadModelFromUrl(modelUrl);
  return { guard: guard(model, detector, o), model, detector };
}
