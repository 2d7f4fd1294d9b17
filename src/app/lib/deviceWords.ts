/** Where a model runs, in words for the page ("your GPU (WebGPU)"), from an engine's device id. */
const DEVICE_WORDS: Record<string, string> = { webgpu: 'your GPU (WebGPU)', wasm: 'the CPU (WebAssembly)' };

export function deviceInWords(device: string): string {
  return DEVICE_WORDS[device] ?? device;
}
