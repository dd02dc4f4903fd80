// The bench's models by name, shared by bench.mjs and the pool workers (handlers.mjs): alp's built-in
// MNIST architectures, and two functional-API CIFAR-shaped models of the kinds users bring (a
// ResNet-20 and a MobileNet-style depthwise-separable network, src/testing/graph-models.ts).
import { buildArch } from '../dist/model/architectures.js';
import { mobilenet, resnet } from '../dist/testing/graph-models.js';

export const MODELS = ['madry-cnn', 'fast-cnn', 'resnet20', 'mobilenet'];

/** [H, W, C] of a bench model's input. */
export function inputShapeOf(name) {
  return name === 'resnet20' || name === 'mobilenet' ? [32, 32, 3] : [28, 28, 1];
}

export function buildModel(name) {
  const o = { inputShape: inputShapeOf(name), numClasses: 10, seed: 1 };
  if (name === 'resnet20') return resnet({ ...o, blocks: 3, widths: [16, 32, 64] });
  if (name === 'mobilenet') return mobilenet(o);
  return buildArch(name, o);
}
