/**
 * A model load's progress as the page shows it, from the engines' LoadProgress reports.
 *
 * Engines report downloads file by file (Transformers.js: the tokenizer, then the ONNX weights) or as
 * one stream (WebLLM), and learn each file's size only when it starts. Dividing the bytes so far by
 * the sizes known so far makes the bar run backwards (100% of 1.8 MB, then 32% of 18.8 MB), so the
 * download is measured against the model's expected size from the catalog until the files' own
 * sizes add up to more. Within a stage the fraction and the bytes never go down; a new stage
 * (compiling, initialising) is a new bar with its own name.
 */
import type { LoadProgress } from '../../core/engine.ts';

export interface LoadView {
  stage: LoadProgress['stage'];
  text: string;
  fraction: number | undefined;
  loadedMB: number | undefined;
  totalMB: number | undefined;
  /** The total is the catalog's estimate, not yet the files' own sizes. */
  estimated: boolean;
}

/** Reports without a file name (WebLLM's) are one stream under this key. */
const STREAM = '';

export class LoadProgressTracker {
  readonly #expectedBytes: number | undefined;
  readonly #files = new Map<string, { loaded: number; total: number }>();
  #view: LoadView;

  /** `expectedMB`: the model's download size as the catalog gives it, when known. */
  constructor(expectedMB: number | undefined, text = 'Starting the model worker') {
    this.#expectedBytes = expectedMB !== undefined && expectedMB > 0 ? expectedMB * 1e6 : undefined;
    this.#view = { stage: 'fetch', text, fraction: undefined, loadedMB: undefined, totalMB: undefined, estimated: false };
  }

  get view(): LoadView {
    return this.#view;
  }

  /** Takes reports in arrival order and returns the view after the last. */
  apply(items: readonly LoadProgress[]): LoadView {
    for (const item of items) this.#applyOne(item);
    return this.#view;
  }

  #applyOne(item: LoadProgress): void {
    const key = item.file ?? STREAM;
    if (item.stage === 'fetch') {
      const known = this.#files.get(key);
      if (item.totalBytes !== undefined) {
        // A file's bytes never go down (a retried request starts again from zero, the bar does not).
        const loaded = Math.max(known?.loaded ?? 0, item.loadedBytes ?? 0);
        const total = Math.max(item.totalBytes, loaded);
        this.#files.set(key, { loaded, total });
      } else if (item.fraction === 1 && known) {
        known.loaded = known.total;
      }
    }
    const previous = this.#view;
    const sameStage = previous.stage === item.stage;
    let loaded = 0;
    let total = 0;
    for (const file of this.#files.values()) {
      loaded += file.loaded;
      total += file.total;
    }
    const bytes = item.stage === 'fetch' && total > 0;
    const estimated = bytes && this.#expectedBytes !== undefined && this.#expectedBytes > total;
    const denominator = estimated ? (this.#expectedBytes ?? total) : total;
    const measured = bytes ? loaded / denominator : item.fraction;
    const floor = sameStage ? previous.fraction : undefined;
    const fraction = measured === undefined ? floor : Math.min(1, Math.max(measured, floor ?? 0));
    this.#view = {
      stage: item.stage,
      text: item.text,
      fraction,
      loadedMB: bytes ? loaded / 1e6 : undefined,
      totalMB: bytes ? denominator / 1e6 : undefined,
      estimated,
    };
  }
}
