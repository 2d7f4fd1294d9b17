/**
 * WebGPU detection on the page, before any model is chosen: whether an adapter exists and whether
 * it offers `shader-f16` (q4f16 WebLLM builds need it). The worker probes again when it loads a
 * model; this probe only decides what the model list offers and what it explains.
 */
export type GpuSupport =
  | { status: 'checking' }
  | { status: 'available'; shaderF16: boolean; description: string }
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
    return { status: 'available', shaderF16: adapter.features.has('shader-f16'), description };
  } catch (error) {
    return { status: 'unavailable', reason: `requesting a GPU adapter failed (${error instanceof Error ? error.message : String(error)})` };
  }
}
