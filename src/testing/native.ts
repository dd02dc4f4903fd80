/**
 * Tests of the native addon skip where it was not built (it is optional), except under CI=true:
 * there a missing addon is a failed build, and its tests fail instead of passing as skipped.
 */
import assert from 'node:assert/strict';
import { nativeApi } from '../backend/native-kernels.js';

/** The `skip` option of a test that needs the addon. */
export function nativeSkip(): string | false {
  if (nativeApi() !== null || process.env['CI'] === 'true') return false;
  return 'native addon not built';
}

/** First line of such a test: fails (under CI) with how to see why the addon is missing. */
export function requireNative(): void {
  assert.ok(nativeApi() !== null, 'the native addon did not build or load: run `node native/build.mjs --force` and read native/build/build.log');
}
