/**
 * Writes float32 tensors in the safetensors format: an 8-byte little-endian header length,
 * a JSON header (`dtype`, `shape`, `data_offsets` per tensor, plus `__metadata__`) padded
 * with spaces to a multiple of 8 bytes, then the raw little-endian tensor bytes.
 */
import { endianness } from 'node:os';
import type { WeightTensor } from './weights.ts';

/** Raw bytes of a Float32Array; the formats we write are little-endian, like every host we run on. */
export function float32Bytes(data: Float32Array): Uint8Array {
  if (endianness() !== 'LE') throw new Error('tiny-model generation assumes a little-endian host');
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/**
 * Encodes the tensors sorted by name (as the Python writer does), so the bytes depend only on
 * the tensors and not on the order they were generated in.
 */
export function encodeSafetensors(tensors: ReadonlyMap<string, WeightTensor>, metadata: Record<string, string>): Uint8Array {
  const names = [...tensors.keys()].sort();
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const name of names) {
    const tensor = tensors.get(name) as WeightTensor;
    header[name] = { dtype: 'F32', shape: tensor.shape, data_offsets: [offset, offset + tensor.data.byteLength] };
    offset += tensor.data.byteLength;
  }
  const json = JSON.stringify(header);
  const paddedLength = Math.ceil(Buffer.byteLength(json) / 8) * 8;
  const headerBytes = Buffer.alloc(paddedLength, ' ');
  headerBytes.write(json);

  const out = new Uint8Array(8 + paddedLength + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(paddedLength), true);
  out.set(headerBytes, 8);
  let position = 8 + paddedLength;
  for (const name of names) {
    const bytes = float32Bytes((tensors.get(name) as WeightTensor).data);
    out.set(bytes, position);
    position += bytes.byteLength;
  }
  return out;
}
