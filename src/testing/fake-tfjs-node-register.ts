/** `node --import` this to make `@tensorflow/tfjs-node` resolve to the fake (fake-tfjs-node-hooks.ts). */
import { register } from 'node:module';

register(new URL('./fake-tfjs-node-hooks.js', import.meta.url));
