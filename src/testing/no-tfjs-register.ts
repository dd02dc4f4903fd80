/** `node --import` this to make every `@tensorflow/*` import fail (no-tfjs-hooks.ts). */
import { register } from 'node:module';

register(new URL('./no-tfjs-hooks.js', import.meta.url));
