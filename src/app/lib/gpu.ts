/**
 * WebGPU detection on the page, before any model is chosen: whether an adapter exists and whether
 * it offers `shader-f16` (q4f16 WebLLM builds need it). The worker probes again when it loads a
 * model; this probe only decides what the model list offers and what it explains.
 */
export type GpuSupport =
  | { status: 'checking' }
  | {
      status: 'available';
      shaderF16: boolean;
      description: string;
      /** A CPU rasterizer (SwiftShader, llvmpipe, …): Transformers.js on WASM is far faster there. */
      software: boolean;
    }
  | { status: 'unavailable'; reason: string };

export async function detectGpu(): Promise<GpuSupport> {
  const gpu = (navigator as Navigator & { gpu?: GPU }).gpu;
  if (!gpu) {
    return { status: 'unavailable', reason: 'this browser does not expose WebGPU (use a recent Chrome or Edge, or enable WebGPU in your browser settings)' };
  }
  try {
    const adapter = await gpu.requestAdapter();
    if (!adapter) return { status: 'unavailable', reason: 'WebGPU is exposed but no GPU adapter was offered (blocklisted driver, or hardware acceleration is off)' };
    const info = adapter.info;
    const description = [info.vendor, info.architecture, info.description].filter(Boolean).join(' ') || 'unnamed adapter';
    const fallback = (info as GPUAdapterInfo & { isFallbackAdapter?: boolean }).isFallbackAdapter ?? (adapter as GPUAdapter & { isFallbackAdapter?: boolean }).isFallbackAdapter;
    return { status: 'available', shaderF16: adapter.features.has('shader-f16'), description, software: isSoftwareAdapter(description, fallback) };
  } catch (error) {
    return { status: 'unavailable', reason: `requesting a GPU adapter failed (${error instanceof Error ? error.message : String(error)})` };
  }
}

/** Software rasterizers' names as adapters report them (vendor, architecture or description). */
const SOFTWARE_ADAPTER = /swiftshader|llvmpipe|lavapipe|softpipe|warp|microsoft basic render|software/i;

/**
 * Whether an adapter is a CPU rasterizer: the browser's own flag when it gives one, else its name.
 * On SwiftShader 64 generated tokens took 61 s on WebGPU against 5 s on WASM.
 */
export function isSoftwareAdapter(description: string, isFallbackAdapter: boolean | undefined): boolean {
  return isFallbackAdapter === true || SOFTWARE_ADAPTER.test(description);
}
