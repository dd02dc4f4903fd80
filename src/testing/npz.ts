/** NumPy files for tests of a user's `.npz` data, written the way numpy.savez lays them out. */
import { writeFileSync } from 'node:fs';
import { zipSync } from 'fflate';

/** One .npy array (format 1.0): magic, a header padded to 64 bytes, then the raw little-endian data. */
export function npy(descr: string, shape: number[], data: ArrayBufferView): Uint8Array {
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  const pad = 64 - ((10 + header.length + 1) % 64);
  header += ' '.repeat(pad % 64) + '\n';
  const out = new Uint8Array(10 + header.length + data.byteLength);
  out.set([0x93, ...Array.from('NUMPY', (c) => c.charCodeAt(0)), 1, 0, header.length & 255, header.length >> 8]);
  out.set(Array.from(header, (c) => c.charCodeAt(0)), 10);
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), 10 + header.length);
  return out;
}

/** An .npz holding `arrays` (name → .npy bytes). */
export function writeNpz(path: string, arrays: Record<string, Uint8Array>): void {
  writeFileSync(path, zipSync(Object.fromEntries(Object.entries(arrays).map(([k, v]) => [`${k}.npy`, v]))));
}
