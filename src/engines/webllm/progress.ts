/** WebLLM's init-progress reports mapped onto the one LoadProgress type every backend reports. */
import type { InitProgressReport } from '@mlc-ai/web-llm';
import type { LoadProgress } from '../../core/engine.ts';

const MB = 1024 * 1024;


/**
 * One WebLLM init report as LoadProgress. WebLLM restarts `progress` at 0 in each phase, so the
 * phase comes from the text: "Fetching param cache[i/N]: X MB fetched. P% completed…" (first
 * download), "Loading model from cache[i/N]: X MB loaded…", "Loading GPU shader modules[i/N]…",
 * "Finish loading on WebGPU - <gpu>". Byte counts come from the MB figure (WebLLM rounds it up).
 */
export function mapInitProgress(report: InitProgressReport): LoadProgress {
  const fraction = Number.isFinite(report.progress) ? Math.min(1, Math.max(0, report.progress)) : undefined;
  const withFraction = fraction === undefined ? {} : { fraction };
  const fetched = /^Fetching param cache\[(\d+)\/(\d+)\]: (\d+)MB fetched/.exec(report.text);
  if (fetched) {
    const loadedBytes = Number(fetched[3]) * MB;
    const totalBytes = fraction !== undefined && fraction > 0 ? Math.round(loadedBytes / fraction) : undefined;
    return {
      stage: 'fetch',
      ...withFraction,
      loadedBytes,
      ...(totalBytes === undefined ? {} : { totalBytes }),
      text: `Downloading weights: ${fetched[3]} MB (shard ${fetched[1]} of ${fetched[2]})`,
    };
  }
  const loaded = /^Loading model from cache\[(\d+)\/(\d+)\]: (\d+)MB loaded/.exec(report.text);
  if (loaded) {
    return { stage: 'init', ...withFraction, loadedBytes: Number(loaded[3]) * MB, text: `Loading weights onto the GPU: ${loaded[3]} MB` };
  }
  const shaders = /^Loading GPU shader modules\[(\d+)\/(\d+)\]/.exec(report.text);
  if (shaders) return { stage: 'compile', ...withFraction, text: `Compiling GPU shaders (${shaders[1]} of ${shaders[2]})` };
  if (report.text.startsWith('Start to fetch params')) return { stage: 'fetch', fraction: 0, text: 'Checking the weights cache' };
  const finished = /^Finish loading on (.*)$/.exec(report.text);
  if (finished) return { stage: 'init', fraction: 1, text: `Loaded on ${finished[1]}` };
  return { stage: 'init', ...withFraction, text: report.text };
}

