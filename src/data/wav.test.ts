import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UserError } from '../util/errors.js';
import { encodeWav, parseWav } from './wav.js';

/** A WAV file with the given format fields and raw sample bytes. */
function wavBytes(format: number, channels: number, rate: number, bits: number, data: Uint8Array, dataSize = data.length): Uint8Array {
  const b = new Uint8Array(44 + data.length);
  const v = new DataView(b.buffer);
  const put = (at: number, s: string): void => s.split('').forEach((ch, i) => (b[at + i] = ch.charCodeAt(0)));
  put(0, 'RIFF');
  v.setUint32(4, 36 + data.length, true);
  put(8, 'WAVE');
  put(12, 'fmt ');
  v.setUint32(16, 16, true);
  v.setUint16(20, format, true);
  v.setUint16(22, channels, true);
  v.setUint32(24, rate, true);
  v.setUint16(34, bits, true);
  put(36, 'data');
  v.setUint32(40, dataSize, true);
  b.set(data, 44);
  return b;
}

test('encodeWav → parseWav round-trips mono 16-bit audio to within two quantisation steps', () => {
  const samples = Float32Array.from({ length: 1000 }, (_, i) => 0.8 * Math.sin(i / 7));
  const w = parseWav(encodeWav({ samples, sampleRate: 8000 }), 'x.wav');
  assert.equal(w.sampleRate, 8000);
  assert.equal(w.samples.length, 1000);
  for (let i = 0; i < 1000; i++) assert.ok(Math.abs((w.samples[i] as number) - (samples[i] as number)) <= 2 / 32768, `sample ${i}`);
  // Out-of-range samples are clipped, not wrapped.
  const clipped = parseWav(encodeWav({ samples: Float32Array.of(2, -3), sampleRate: 8000 }), 'y.wav');
  assert.ok((clipped.samples[0] as number) > 0.999 && clipped.samples[1] === -1);
});

test('parseWav reads 8-bit, 24-bit, float and stereo files, and streaming writers’ unknown data sizes', () => {
  const u8 = parseWav(wavBytes(1, 1, 100, 8, Uint8Array.of(128, 255, 0)), 'a');
  assert.deepEqual(Array.from(u8.samples), [0, 127 / 128, -1]);
  const i24 = parseWav(wavBytes(1, 1, 100, 24, Uint8Array.of(0, 0, 0x40, 0, 0, 0xc0)), 'b');
  assert.deepEqual(Array.from(i24.samples), [0.5, -0.5]);
  const f = new Float32Array([0.25, -0.75]);
  const f32 = parseWav(wavBytes(3, 1, 100, 32, new Uint8Array(f.buffer)), 'c');
  assert.deepEqual(Array.from(f32.samples), [0.25, -0.75]);
  // Stereo is averaged to mono.
  const st = new Int16Array([16384, 0, -16384, -16384]);
  const stereo = parseWav(wavBytes(1, 2, 100, 16, new Uint8Array(st.buffer)), 'd');
  assert.deepEqual(Array.from(stereo.samples), [0.25, -0.5]);
  // espeak-ng --stdout writes 0xFFFFFFFF as the data size: the rest of the file is the data.
  const stream = parseWav(wavBytes(1, 1, 100, 16, new Uint8Array(new Int16Array([8192, 8192, 8192]).buffer), 0xffffffff), 'e');
  assert.equal(stream.samples.length, 3);
});

test('parseWav names the file and the problem for what it cannot read', () => {
  const bad = (bytes: Uint8Array, re: RegExp): void =>
    assert.throws(() => parseWav(bytes, 'clip.wav'), (e: unknown) => e instanceof UserError && e.message.startsWith('clip.wav') && re.test(e.message));
  bad(new TextEncoder().encode('ID3 not a wave file at all'), /expected a RIFF\/WAVE file/);
  bad(new Uint8Array(5), /expected a RIFF\/WAVE file, found 5 bytes/);
  bad(wavBytes(2, 1, 100, 4, new Uint8Array(4)), /expected PCM .* found format 2 with 4 bits/);
  bad(wavBytes(1, 0, 100, 16, new Uint8Array(4)), /expected ≥ 1 channel/);
  const noData = wavBytes(1, 1, 100, 16, new Uint8Array(0)).subarray(0, 36);
  bad(noData, /no data chunk/);
});
