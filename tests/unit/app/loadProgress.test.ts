/**
 * The model load's progress view (src/app/lib/loadProgress.ts) never runs backwards: the reports
 * Transformers.js sends for the tiny model (the 1.8 MB tokenizer in full, then the 17 MB weights
 * a third of the way) used to show 100%, then 32%.
 */
import { describe, expect, it } from 'vitest';
import type { LoadProgress } from '../../../src/core/engine.ts';
import { LoadProgressTracker, type LoadView } from '../../../src/app/lib/loadProgress.ts';

const MB = 1e6;
const TOKENIZER = 1.8 * MB;
const WEIGHTS = 17 * MB;

/** What the Transformers.js engine reports for the tiny model, file after file. */
const TINY_MODEL_LOAD: LoadProgress[] = [
  { stage: 'fetch', file: 'config.json', text: 'Fetching config.json' },
  { stage: 'fetch', file: 'tokenizer.json', text: 'Fetching tokenizer.json' },
  { stage: 'fetch', file: 'tokenizer.json', loadedBytes: 0.9 * MB, totalBytes: TOKENIZER, fraction: 0.5, text: 'Fetching tokenizer.json' },
  { stage: 'fetch', file: 'tokenizer.json', loadedBytes: TOKENIZER, totalBytes: TOKENIZER, fraction: 1, text: 'Fetching tokenizer.json' },
  { stage: 'fetch', file: 'tokenizer.json', fraction: 1, text: 'Fetched tokenizer.json' },
  { stage: 'fetch', file: 'onnx/model.onnx', text: 'Fetching onnx/model.onnx' },
  { stage: 'fetch', file: 'onnx/model.onnx', loadedBytes: 4.2 * MB, totalBytes: WEIGHTS, fraction: 4.2 / 17, text: 'Fetching onnx/model.onnx' },
  { stage: 'fetch', file: 'onnx/model.onnx', loadedBytes: 12 * MB, totalBytes: WEIGHTS, fraction: 12 / 17, text: 'Fetching onnx/model.onnx' },
  { stage: 'fetch', file: 'onnx/model.onnx', loadedBytes: WEIGHTS, totalBytes: WEIGHTS, fraction: 1, text: 'Fetching onnx/model.onnx' },
  { stage: 'fetch', file: 'onnx/model.onnx', fraction: 1, text: 'Fetched onnx/model.onnx' },
];

function views(tracker: LoadProgressTracker, reports: readonly LoadProgress[]): LoadView[] {
  return reports.map((report) => ({ ...tracker.apply([report]) }));
}

function expectNeverBackwards(shown: readonly LoadView[]): void {
  const fractions = shown.map((view) => view.fraction ?? 0);
  for (let index = 1; index < fractions.length; index++) expect(fractions[index], `report ${index}: ${fractions.join(', ')}`).toBeGreaterThanOrEqual(fractions[index - 1] ?? 0);
  const loaded = shown.map((view) => view.loadedMB ?? 0);
  for (let index = 1; index < loaded.length; index++) expect(loaded[index]).toBeGreaterThanOrEqual(loaded[index - 1] ?? 0);
}

describe('load progress', () => {
  it('measures the download against the catalog’s size until the files’ own sizes are known', () => {
    const shown = views(new LoadProgressTracker(19), TINY_MODEL_LOAD);
    expectNeverBackwards(shown);
    // The whole tokenizer is 1.8 of ~19 MB, not 100%.
    expect(shown[3]).toMatchObject({ loadedMB: 1.8, totalMB: 19, estimated: true });
    expect(shown[3]?.fraction).toBeCloseTo(1.8 / 19, 6);
    // A third of the weights: 6 MB of ~19.
    expect(shown[6]?.fraction).toBeCloseTo(6 / 19, 6);
    expect(shown[6]?.totalMB).toBe(19);
    // The catalog rounds up: at the end the files' 18.8 MB are all there is.
    expect(shown.at(-1)?.loadedMB).toBeCloseTo(18.8, 6);
  });

  it('without a catalog size, holds the bar instead of running it backwards', () => {
    const shown = views(new LoadProgressTracker(undefined), TINY_MODEL_LOAD);
    expectNeverBackwards(shown);
    expect(shown.at(-1)?.fraction).toBe(1);
  });

  it('takes the files’ own total once it is larger than the catalog’s estimate', () => {
    const shown = views(new LoadProgressTracker(10), TINY_MODEL_LOAD);
    expectNeverBackwards(shown);
    expect(shown[6]).toMatchObject({ totalMB: 18.8, estimated: false });
  });

  it('keeps a file’s bytes when a retried request starts it again from zero', () => {
    const tracker = new LoadProgressTracker(19);
    const retried: LoadProgress[] = [
      ...TINY_MODEL_LOAD.slice(0, 7),
      { stage: 'fetch', file: 'onnx/model.onnx', loadedBytes: 0.1 * MB, totalBytes: WEIGHTS, fraction: 0.1 / 17, text: 'Fetching onnx/model.onnx' },
      ...TINY_MODEL_LOAD.slice(7),
    ];
    expectNeverBackwards(views(tracker, retried));
  });

  it('starts a new bar for each stage, named by the stage, and never backwards within one (WebLLM’s phases)', () => {
    const tracker = new LoadProgressTracker(4080);
    const shown = views(tracker, [
      { stage: 'fetch', fraction: 0, text: 'Checking the weights cache' },
      { stage: 'fetch', fraction: 0.5, loadedBytes: 2040 * 1024 * 1024, totalBytes: 4080 * 1024 * 1024, text: 'Downloading weights' },
      { stage: 'init', fraction: 0.2, text: 'Loading weights onto the GPU' },
      { stage: 'init', fraction: 0.1, text: 'Loading weights onto the GPU' },
      { stage: 'compile', fraction: 0.3, text: 'Compiling GPU shaders (3 of 10)' },
    ]);
    expect(shown.map((view) => view.stage)).toEqual(['fetch', 'fetch', 'init', 'init', 'compile']);
    expect(shown.map((view) => view.fraction)).toEqual([0, 0.5, 0.2, 0.2, 0.3]);
    expect(shown[2]?.loadedMB).toBeUndefined();
  });
});
