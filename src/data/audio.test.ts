import { test } from 'node:test';
import assert from 'node:assert/strict';
import { centreIn, linfEpsToDb, peakNormalise, resample, trimSilence, unitToWave, waveToUnit } from './audio.js';

function tone(freq: number, rate: number, seconds: number, amp = 0.5): Float32Array {
  return Float32Array.from({ length: Math.round(rate * seconds) }, (_, i) => amp * Math.sin((2 * Math.PI * freq * i) / rate));
}

function rms(x: Float32Array, from = 0, to = x.length): number {
  let s = 0;
  for (let i = from; i < to; i++) s += (x[i] as number) ** 2;
  return Math.sqrt(s / (to - from));
}

test('resample keeps a tone below the new Nyquist frequency and removes one above it', () => {
  const low = resample(tone(440, 22050, 0.5), 22050, 8000);
  assert.equal(low.length, 4000);
  // Away from the edges the 440 Hz tone keeps its level (0.5/√2) and its phase.
  assert.ok(Math.abs(rms(low, 200, 3800) - 0.5 / Math.SQRT2) < 0.01, String(rms(low, 200, 3800)));
  const ref = tone(440, 8000, 0.5);
  for (let i = 200; i < 3800; i += 97) assert.ok(Math.abs((low[i] as number) - (ref[i] as number)) < 0.02, `sample ${i}`);
  // 6 kHz cannot be represented at 8 kHz: it must be filtered out, not aliased to 2 kHz.
  const high = resample(tone(6000, 22050, 0.5), 22050, 8000);
  assert.ok(rms(high, 200, 3800) < 0.02, String(rms(high, 200, 3800)));
  assert.deepEqual(resample(Float32Array.of(1, 2), 8000, 8000), Float32Array.of(1, 2));
});

test('trimSilence, centreIn and peakNormalise shape a clip into a fixed window', () => {
  const x = Float32Array.of(0, 0.001, 0.5, -1, 0.25, 0.001, 0);
  assert.deepEqual(Array.from(trimSilence(x)), [0.5, -1, 0.25]);
  assert.equal(trimSilence(new Float32Array(4)).length, 0);
  assert.deepEqual(Array.from(centreIn(Float32Array.of(1, 2, 3), 7)), [0, 0, 1, 2, 3, 0, 0]);
  assert.deepEqual(Array.from(centreIn(Float32Array.of(1, 2, 3, 4, 5), 3)), [2, 3, 4]);
  assert.deepEqual(Array.from(peakNormalise(Float32Array.of(0.1, -0.2), 0.5)), [0.25, -0.5]);
  assert.deepEqual(Array.from(peakNormalise(new Float32Array(2), 0.5)), [0, 0]);
});

test('the waveform ↔ [0,1] box map is exact and its ε has the documented dB meaning', () => {
  const w = Float32Array.of(-1, -0.5, 0, 0.5, 1);
  const u = new Float32Array(5);
  waveToUnit(w, u);
  assert.deepEqual(Array.from(u), [0, 0.25, 0.5, 0.75, 1]);
  assert.deepEqual(Array.from(unitToWave(u)), Array.from(w));
  // ε = 0.0025 in the box is 0.005 in the waveform: −40 dB of a 0.5 peak.
  assert.ok(Math.abs(linfEpsToDb(0.0025, 0.5) + 40) < 1e-9);
});
