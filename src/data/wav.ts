/**
 * RIFF/WAVE reading and writing: PCM 8/16/24/32-bit integer and 32-bit float, any channel count (read
 * as the mean of the channels). Enough for speech corpora and for writing adversarial audio a person
 * can listen to.
 */
import { UserError } from '../util/errors.js';

export interface Wave {
  /** Samples in [-1, 1], mono. */
  samples: Float32Array;
  sampleRate: number;
}

function fourcc(b: Uint8Array, at: number): string {
  return String.fromCharCode(b[at] as number, b[at + 1] as number, b[at + 2] as number, b[at + 3] as number);
}

/** Decodes a WAV file's bytes; `where` names the file in errors. */
export function parseWav(bytes: Uint8Array, where: string): Wave {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 12 || fourcc(bytes, 0) !== 'RIFF' || fourcc(bytes, 8) !== 'WAVE') {
    throw new UserError(`${where}: expected a RIFF/WAVE file, found ${bytes.length < 12 ? `${bytes.length} bytes` : `'${fourcc(bytes, 0)}…${fourcc(bytes, 8)}'`}`);
  }
  let fmt: { format: number; channels: number; rate: number; bits: number } | null = null;
  let data: { at: number; size: number } | null = null;
  for (let at = 12; at + 8 <= bytes.length; ) {
    const id = fourcc(bytes, at);
    let size = view.getUint32(at + 4, true);
    // Streaming writers (espeak-ng --stdout among them) leave the data size as 0xFFFFFFFF or 0.
    if (id === 'data' && (size === 0xffffffff || size === 0 || at + 8 + size > bytes.length)) size = bytes.length - at - 8;
    if (id === 'fmt ') {
      if (size < 16) throw new UserError(`${where}: fmt chunk: expected ≥ 16 bytes, found ${size}`);
      let format = view.getUint16(at + 8, true);
      // WAVE_FORMAT_EXTENSIBLE: the real format is the first two bytes of the sub-format GUID.
      if (format === 0xfffe && size >= 26) format = view.getUint16(at + 32, true);
      fmt = { format, channels: view.getUint16(at + 10, true), rate: view.getUint32(at + 12, true), bits: view.getUint16(at + 22, true) };
    } else if (id === 'data') {
      data = { at: at + 8, size };
    }
    at += 8 + size + (size & 1);
  }
  if (fmt === null) throw new UserError(`${where}: no fmt chunk`);
  if (data === null) throw new UserError(`${where}: no data chunk`);
  const { format, channels, rate, bits } = fmt;
  const pcm = format === 1 && [8, 16, 24, 32].includes(bits);
  const float = format === 3 && bits === 32;
  if (!pcm && !float) throw new UserError(`${where}: expected PCM 8/16/24/32-bit or float 32-bit samples, found format ${format} with ${bits} bits`);
  if (channels < 1) throw new UserError(`${where}: expected ≥ 1 channel, found ${channels}`);
  if (rate < 1) throw new UserError(`${where}: expected a sample rate ≥ 1, found ${rate}`);
  const width = bits / 8;
  const frames = Math.floor(data.size / (width * channels));
  const out = new Float32Array(frames);
  for (let i = 0; i < frames; i++) {
    let sum = 0;
    for (let c = 0; c < channels; c++) {
      const p = data.at + (i * channels + c) * width;
      let v: number;
      if (float) v = view.getFloat32(p, true);
      else if (bits === 8) v = ((bytes[p] as number) - 128) / 128;
      else if (bits === 16) v = view.getInt16(p, true) / 32768;
      else if (bits === 24) v = ((((bytes[p + 2] as number) << 24) | ((bytes[p + 1] as number) << 16) | ((bytes[p] as number) << 8)) >> 8) / 8388608;
      else v = view.getInt32(p, true) / 2147483648;
      sum += v;
    }
    out[i] = Math.max(-1, Math.min(1, sum / channels));
  }
  return { samples: out, sampleRate: rate };
}

/** Encodes mono samples in [-1, 1] as a 16-bit PCM WAV file (values outside are clipped). */
export function encodeWav(w: Wave): Uint8Array {
  const n = w.samples.length;
  const bytes = new Uint8Array(44 + 2 * n);
  const view = new DataView(bytes.buffer);
  const put = (at: number, s: string): void => {
    for (let i = 0; i < 4; i++) bytes[at + i] = s.charCodeAt(i);
  };
  put(0, 'RIFF');
  view.setUint32(4, 36 + 2 * n, true);
  put(8, 'WAVE');
  put(12, 'fmt ');
  view.setUint32(16, 16, true);
  view.setUint16(20, 1, true);
  view.setUint16(22, 1, true);
  view.setUint32(24, w.sampleRate, true);
  view.setUint32(28, w.sampleRate * 2, true);
  view.setUint16(32, 2, true);
  view.setUint16(34, 16, true);
  put(36, 'data');
  view.setUint32(40, 2 * n, true);
  for (let i = 0; i < n; i++) {
    const v = Math.max(-1, Math.min(1, w.samples[i] as number));
    view.setInt16(44 + 2 * i, Math.round(v < 0 ? v * 32768 : v * 32767), true);
  }
  return bytes;
}
