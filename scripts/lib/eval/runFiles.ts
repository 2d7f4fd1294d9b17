/**
 * The layout of an evaluation's output folder and the manifest that ties a resumed run to the
 * one it continues. Everything the report shows is recomputed from these files:
 *   run.json            what was scored, how (engine or one engine per fold, dataset fingerprint,
 *                       convention, norm, limits, seed, the baseline run)
 *   prefixes.json       every prefix text and how it was made (our persona-file format)
 *   pairs.jsonl         one row per (prefix, pair), per fold in a fold-routed run: scores, margin,
 *                       tokens, truncation, or a failure
 *   baseline-pairs.jsonl  the baseline run's no-prefix rows (--baseline-run), copied so the report
 *                       can always be rebuilt from this folder alone
 *   personas.json       `eval personas`: ROUGE of prefix texts against gold (Tables 2 and 11) and
 *                       against the shuffled prefix (Table 13)
 *   safety.json, safety.jsonl, safety-prefixes.json, baseline-safety.jsonl   `eval safety` (Figure 7)
 *   agreement.json      `eval agreement`: the labels compared and how (Table 6)
 *   elicitation.json, elicitation.jsonl   `eval elicitation`: the replay's settings and one row per
 *                       (strategy, repeat, persona, step)
 *   generations.json    `eval generations`: contestants, judge, questions
 *   generations.jsonl, judgements.jsonl   its rows
 *   summary.json, report.md, report.html  derived, rewritten by every command
 *
 * A run resumes only into a folder whose manifest agrees on everything that changes a score; any
 * difference stops with the field named, so rows scored two ways never mix.
 */
import { join } from 'node:path';
import { z } from 'zod';
import { Aggregation } from '../../../src/core/aggregate.ts';
import { AppError } from '../../../src/core/errors.ts';
import { EvalPrefix } from '../../../src/core/eval/prefixes.ts';
import { Convention, TruncationLimits } from '../../../src/core/scoringInput.ts';
import { readJsonLines, type JsonlRead } from '../durableFiles.ts';

export function runPaths(out: string) {
  return {
    manifest: join(out, 'run.json'),
    prefixes: join(out, 'prefixes.json'),
    pairs: join(out, 'pairs.jsonl'),
    baselinePairs: join(out, 'baseline-pairs.jsonl'),
    safetyManifest: join(out, 'safety.json'),
    safety: join(out, 'safety.jsonl'),
    safetyPrefixes: join(out, 'safety-prefixes.json'),
    baselineSafety: join(out, 'baseline-safety.jsonl'),
    agreement: join(out, 'agreement.json'),
    elicitationManifest: join(out, 'elicitation.json'),
    elicitation: join(out, 'elicitation.jsonl'),
    personas: join(out, 'personas.json'),
    generationsManifest: join(out, 'generations.json'),
    generations: join(out, 'generations.jsonl'),
    judgements: join(out, 'judgements.jsonl'),
    summary: join(out, 'summary.json'),
    reportMarkdown: join(out, 'report.md'),
    reportHtml: join(out, 'report.html'),
  };
}
export type RunPaths = ReturnType<typeof runPaths>;

/**
 * Every row of one of the folder's JSON Lines files (none when it does not exist), a torn last
 * line cut off (scripts/lib/durableFiles.ts); a damaged file is a rejection like any failed read.
 */
export async function readJsonl<Schema extends z.ZodType>(path: string, schema: Schema): Promise<JsonlRead<z.output<Schema>>> {
  return readJsonLines(path, schema, 'fix or delete that line, then re-run');
}

/** What a loaded engine reports, recorded so a resumed run can be checked against it. */
export const EngineRecord = z.object({ spec: z.string(), backend: z.string(), model: z.string(), method: z.string(), chatTemplate: z.string() });
export type EngineRecord = z.infer<typeof EngineRecord>;

export const FoldsRecord = z.object({
  /** Where the folds were read (a cv folder layout, a personas file with `cv`, or a folds file). */
  source: z.string(),
  /** Every fold of the source: the personas its model held out. */
  heldOut: z.record(z.string(), z.array(z.string())),
  /** The run's folds: the engine spec, and what it reported once loaded. */
  engines: z.record(z.string(), z.object({ spec: z.string(), loaded: EngineRecord.optional() })),
  /** Which folds score each persona (folds.ts routePersonas). */
  routes: z.record(z.string(), z.object({ unseen: z.array(z.string()), seen: z.string().optional() })),
});
export type FoldsRecord = z.infer<typeof FoldsRecord>;

export const RunManifest = z.object({
  format: z.literal('wikipersona-eval-run'),
  version: z.literal(1),
  /** A single-engine run's engine; a fold-routed run has `folds` instead. */
  engine: EngineRecord.optional(),
  folds: FoldsRecord.optional(),
  /** --baseline-run: the run whose no-prefix rows Figure 6 compares with, and whose prefix texts were used. */
  baseline: z.object({ run: z.string(), engine: z.string(), fingerprint: z.string() }).optional(),
  /** Who may write inferred persona texts: the evaluated engine, or only the baseline run (Zephyr, as the authors). */
  personaWriter: z.enum(['engine', 'baseline']).optional(),
  dataset: z.object({ source: z.string(), fingerprint: z.string(), pairs: z.number().int(), personas: z.number().int() }),
  settings: z.object({
    convention: Convention,
    norm: Aggregation,
    limits: TruncationLimits.nullable(),
    split: z.string(),
    seed: z.number().int(),
    bootstrapResamples: z.number().int().positive(),
    promptsVersion: z.string(),
  }),
  /** Every prefix scored into this folder so far (a later start may add more). */
  prefixes: z.array(EvalPrefix),
});
export type RunManifest = z.infer<typeof RunManifest>;

/** Stops when `previous` and `next` would score the same pair differently. */
export function assertResumable(previous: RunManifest, next: RunManifest, out: string): void {
  const foldSpecs = (manifest: RunManifest) => Object.entries(manifest.folds?.engines ?? {}).map(([fold, engine]) => [fold, engine.spec] as const);
  const nextSpecs = new Map(foldSpecs(next));
  const checks: [string, unknown, unknown][] = [
    ['engine', previous.engine?.spec ?? 'fold-routed', next.engine?.spec ?? 'fold-routed'],
    ['chat template', previous.engine?.chatTemplate, next.engine?.chatTemplate],
    ['folds', JSON.stringify(previous.folds?.heldOut), JSON.stringify(next.folds?.heldOut)],
    ...foldSpecs(previous).flatMap(([fold, spec]): [string, unknown, unknown][] => (nextSpecs.has(fold) ? [[`engine for fold ${fold}`, spec, nextSpecs.get(fold)]] : [])),
    ['baseline run', previous.baseline?.fingerprint, next.baseline?.fingerprint],
    ['dataset (fingerprint of its pairs)', previous.dataset.fingerprint, next.dataset.fingerprint],
    ['--convention', previous.settings.convention, next.settings.convention],
    ['--norm', previous.settings.norm, next.settings.norm],
    ['truncation limits', JSON.stringify(previous.settings.limits), JSON.stringify(next.settings.limits)],
    ['--split', previous.settings.split, next.settings.split],
    ['--seed', previous.settings.seed, next.settings.seed],
    ['prompts version', previous.settings.promptsVersion, next.settings.promptsVersion],
  ];
  assertSameSettings(checks, out);
}

/** Stops at the first `[what, before, now]` whose values differ, naming it and how to go on. */
export function assertSameSettings(checks: readonly (readonly [string, unknown, unknown])[], out: string): void {
  for (const [what, before, now] of checks) {
    if (before !== now) {
      throw new AppError(
        'invalid-input',
        `${out} holds a run with another ${what} (${String(before)}, now ${String(now)}): resume with the same settings, or use a new --out folder.`,
      );
    }
  }
}
