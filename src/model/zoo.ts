/**
 * The model zoo as the library sees it: load a model by name. Where the zoo is: ./zoo-paths.ts; the
 * cards, the list and the checks against a card: ./zoo-card.ts (no TF.js in either).
 */
import type * as tf from '@tensorflow/tfjs';
import { loadModel } from './io.js';
import { zooModelDir } from './zoo-paths.js';

/** Loads zoo model `name` (a TF.js layers model that outputs logits). */
export async function loadZooModel(name: string): Promise<tf.LayersModel> {
  return loadModel(zooModelDir(name));
}
