/**
 * The layout of an evaluation's output folder and the manifest that ties a resumed run to the
 * one it continues. Everything the report shows is recomputed from these files:
 *   run.json            what was scored, how (engine, dataset fingerprint, convention, norm, limits, seed)
 *   prefixes.json       every prefix text and how it was made (our persona-file format)
 *   pairs.jsonl         one row per (prefix, pair): scores, margin, tokens, truncation, or a failure
 *   personas.json       `eval personas`: ROUGE of prefix texts against gold (Tables 2 and 11)
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

export const RunManifest = z.object({
  format: z.literal('wikipersona-eval-run'),
  version: z.literal(1),
  engine: z.object({ spec: z.string(), backend: z.string(), model: z.string(), method: z.string(), chatTemplate: z.string() }),
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
  const checks: [string, unknown, unknown][] = [
    ['engine', previous.engine.spec, next.engine.spec],
    ['chat template', previous.engine.chatTemplate, next.engine.chatTemplate],
    ['dataset (fingerprint of its pairs)', previous.dataset.fingerprint, next.dataset.fingerprint],
    ['--convention', previous.settings.convention, next.settings.convention],
    ['--norm', previous.settings.norm, next.settings.norm],
    ['truncation limits', JSON.stringify(previous.settings.limits), JSON.stringify(next.settings.limits)],
    ['--split', previous.settings.split, next.settings.split],
    ['--seed', previous.settings.seed, next.settings.seed],
    ['prompts version', previous.settings.promptsVersion, next.settings.promptsVersion],
  ];
  for (const [what, before, now] of checks) {
    if (before !== now) {
      throw new AppError(
        'invalid-input',
        `${out} holds a run with another ${what} (${String(before)}, now ${String(now)}): resume with the same settings, or use a new --out folder.`,
      );
    }
  }
}
