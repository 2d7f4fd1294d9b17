/**
 * Assembles the report from an output folder's files and writes summary.json, report.md and
 * report.html. Every number is recomputed from the row files (pairs.jsonl, generations.jsonl,
 * judgements.jsonl, safety.jsonl, elicitation.jsonl) and the prefix texts (personas.json), so the
 * report can always be rebuilt and never disagrees with the rows. Every eval command calls `writeReport` when it finishes, so the
 * report grows as the commands write into one folder.
 */
import { z } from 'zod';
import { summarizeGenerations } from '../../../src/core/eval/generations.ts';
import { EvalPrefix } from '../../../src/core/eval/prefixes.ts';
import { PrefixFile } from '../../../src/core/eval/prefixFile.ts';
import { prefixProvenance } from '../../../src/core/eval/provenance.ts';
import { prefixOverlap } from '../../../src/core/eval/prefixOverlap.ts';
import { personaQuality } from '../../../src/core/eval/personaQuality.ts';
import { reportJson, type EvalReport } from '../../../src/core/eval/report.ts';
import { EvalPairRow, GenerationRow, JudgementRow } from '../../../src/core/eval/rows.ts';
import { summarizePairs } from '../../../src/core/eval/summary.ts';
import { summarizeSafety } from '../../../src/core/eval/safety.ts';
import { summarizeAgreement } from '../../../src/core/eval/agreementSummary.ts';
import { PreferenceLabel } from '../../../src/core/eval/labels.ts';
import { ElicitationRow } from '../../../src/core/elicitation/replay.ts';
import { summarizeElicitation } from '../../../src/core/elicitation/replaySummary.ts';
import { ElicitationStrategy } from '../../../src/core/elicitation/strategy.ts';
import { PersonaPromptVariant } from '../../../src/core/personaInference.ts';
import { Aggregation } from '../../../src/core/aggregate.ts';
import { Convention, TruncationLimits } from '../../../src/core/scoringInput.ts';
import { PROMPTS_VERSION } from '../../../src/core/prompts.ts';
import { Persona } from '../../../src/core/schema.ts';
import { readJsonFile, writeFileAtomic } from '../durableFiles.ts';
import { renderHtml } from './reportHtml.ts';
import { renderMarkdown } from './reportMarkdown.ts';
import { EngineRecord, readJsonl, RunManifest, runPaths } from './runFiles.ts';

/** The seed every bootstrap and random pairing uses when no run manifest says otherwise (the authors'). */
export const DEFAULT_SEED = 24;

/** What `eval personas` leaves in the folder: the texts compared and how, so the tables can be recomputed. */
export const PersonasInput = z.object({
  source: z.string(),
  seed: z.number().int(),
  examples: z.array(z.string()).optional(),
  personas: z.array(Persona),
  /** Table 13: each persona's shuffle partner, and where the assignment came from. */
  shuffle: z.object({ source: z.string(), assignment: z.record(z.string(), z.string()) }).optional(),
});
export type PersonasInput = z.infer<typeof PersonasInput>;

export const GenerationsManifest = z.object({
  format: z.literal('wikipersona-eval-generations'),
  version: z.literal(1),
  judge: z.string(),
  seed: z.number().int(),
  contestants: z.array(z.object({ label: z.string(), engine: z.string(), prefix: EvalPrefix })),
  questions: z.array(z.object({ questionId: z.string(), persona: z.string(), question: z.string() })),
  settings: z.object({ temperature: z.number(), maxNewTokens: z.number().int(), judgeTemperature: z.number(), judgeMaxTokens: z.number().int() }),
});
export type GenerationsManifest = z.infer<typeof GenerationsManifest>;

export const SafetyManifest = z.object({
  format: z.literal('wikipersona-eval-safety'),
  version: z.literal(1),
  dataset: z.object({ source: z.string(), fingerprint: z.string(), items: z.number().int() }),
  /** fold → engine spec ("" for a single engine). */
  engines: z.record(z.string(), z.string()),
  norm: z.string(),
  convention: z.string(),
  prefixes: z.array(EvalPrefix),
  personas: z.array(z.string()),
  baselineRun: z.string().optional(),
});
export type SafetyManifest = z.infer<typeof SafetyManifest>;

/** What `eval agreement` leaves in the folder: the labels and the pairs they name, so Table 6 can be recomputed. */
export const AgreementInput = z.object({
  source: z.string(),
  dataset: z.object({ source: z.string(), fingerprint: z.string() }),
  seed: z.number().int(),
  resamples: z.number().int().positive(),
  pairs: z.array(z.object({ id: z.string(), persona: z.string() })),
  labels: z.array(PreferenceLabel),
});
export type AgreementInput = z.infer<typeof AgreementInput>;

/** What `eval elicitation` leaves in the folder besides its rows: what was replayed and how. */
export const ElicitationManifest = z.object({
  format: z.literal('wikipersona-eval-elicitation'),
  version: z.literal(1),
  dataset: z.object({ source: z.string(), fingerprint: z.string() }),
  engine: EngineRecord,
  /** The personas replayed, in dataset order. */
  personas: z.array(z.string()),
  settings: z.object({
    budget: z.number().int().positive(),
    strategies: z.array(ElicitationStrategy).min(1),
    repeats: z.number().int().positive(),
    seed: z.number().int(),
    convention: Convention,
    norm: Aggregation,
    limits: TruncationLimits.nullable(),
    persona: z.object({ variant: PersonaPromptVariant, maxNewTokens: z.number().int().positive(), temperature: z.number(), topP: z.number(), topK: z.number().int() }),
    bootstrapResamples: z.number().int().positive(),
    promptsVersion: z.string(),
  }),
});
export type ElicitationManifest = z.infer<typeof ElicitationManifest>;

export async function assembleReport(out: string): Promise<EvalReport> {
  const paths = runPaths(out);
  const manifest = readJsonFile(paths.manifest, RunManifest);
  const elicitation = readJsonFile(paths.elicitationManifest, ElicitationManifest);
  const seed = manifest?.settings.seed ?? DEFAULT_SEED;
  const datasetSource = manifest?.dataset.source ?? elicitation?.dataset.source;
  const report: EvalReport = {
    title: `WikiPersona evaluation${datasetSource ? `: ${datasetSource}` : ''}`,
    run: {
      promptsVersion: PROMPTS_VERSION,
      ...(manifest
        ? {
            ...(manifest.engine ? { engine: { spec: manifest.engine.spec, backend: manifest.engine.backend, model: manifest.engine.model, method: manifest.engine.method } } : {}),
            ...(manifest.folds ? { folds: Object.fromEntries(Object.entries(manifest.folds.engines).map(([fold, engine]) => [fold, engine.spec])) } : {}),
            dataset: manifest.dataset,
            settings: { ...manifest.settings, prefixes: manifest.prefixes },
          }
        : {}),
    },
  };
  const { rows } = await readJsonl(paths.pairs, EvalPairRow);
  const baselineRows = manifest?.baseline ? (await readJsonl(paths.baselinePairs, EvalPairRow)).rows : [];
  const baseline = manifest?.baseline && baselineRows.length > 0 ? { engine: manifest.baseline.engine, rows: baselineRows } : undefined;
  if (rows.length > 0) report.pairs = summarizePairs(rows, { seed, resamples: manifest?.settings.bootstrapResamples ?? 1000 }, baseline);
  const prefixFile = readJsonFile(paths.prefixes, PrefixFile);
  if (prefixFile && manifest) {
    const entries = prefixProvenance(prefixFile, manifest.prefixes);
    const source = manifest.baseline ? `${paths.prefixes} (texts of the baseline run ${manifest.baseline.run}, ${manifest.baseline.engine})` : paths.prefixes;
    if (entries.length > 0) report.provenance = { source, entries };
  }
  const input = readJsonFile(paths.personas, PersonasInput);
  if (input) {
    report.personas = { source: input.source, ...personaQuality(input.personas, { seed: input.seed, ...(input.examples ? { examples: input.examples } : {}) }) };
    if (input.shuffle) report.overlap = { source: input.shuffle.source, ...prefixOverlap(input.personas, input.shuffle.assignment) };
  }
  const safety = readJsonFile(paths.safetyManifest, SafetyManifest);
  if (safety) {
    const [safetyRows, baselineSafety] = await Promise.all([readJsonl(paths.safety, EvalPairRow), readJsonl(paths.baselineSafety, EvalPairRow)]);
    const baselineEngine = safety.baselineRun ? readJsonFile(runPaths(safety.baselineRun).safetyManifest, SafetyManifest)?.engines[''] ?? safety.baselineRun : undefined;
    report.safety = {
      source: safety.dataset.source,
      norm: safety.norm,
      engines: safety.engines,
      ...summarizeSafety(safetyRows.rows, { seed, resamples: manifest?.settings.bootstrapResamples ?? 1000 }, baselineEngine && baselineSafety.rows.length > 0 ? { engine: baselineEngine, rows: baselineSafety.rows } : undefined),
    };
  }
  const agreement = readJsonFile(paths.agreement, AgreementInput);
  if (agreement) report.agreement = { source: agreement.source, ...summarizeAgreement(agreement.pairs, agreement.labels, { seed: agreement.seed, resamples: agreement.resamples }) };
  if (elicitation) {
    const { rows: elicitationRows } = await readJsonl(paths.elicitation, ElicitationRow);
    const { settings } = elicitation;
    report.elicitation = {
      source: elicitation.dataset.source,
      engine: elicitation.engine.spec,
      budget: settings.budget,
      repeats: settings.repeats,
      personas: elicitation.personas,
      settings: { seed: settings.seed, convention: settings.convention, norm: settings.norm, limits: settings.limits, persona: settings.persona, promptsVersion: settings.promptsVersion },
      ...summarizeElicitation(elicitationRows, { ...settings, personas: elicitation.personas }, { seed: settings.seed, resamples: settings.bootstrapResamples }),
    };
  }
  const generations = readJsonFile(paths.generationsManifest, GenerationsManifest);
  if (generations) {
    const [generationRows, judgementRows] = await Promise.all([readJsonl(paths.generations, GenerationRow), readJsonl(paths.judgements, JudgementRow)]);
    report.generations = {
      judge: generations.judge,
      ...summarizeGenerations(
        generationRows.rows,
        judgementRows.rows,
        generations.contestants.map((contestant) => contestant.label),
      ),
    };
  }
  return report;
}

/** Writes summary.json, report.md and report.html (atomically) and returns the report. */
export async function writeReport(out: string): Promise<EvalReport> {
  const report = await assembleReport(out);
  const paths = runPaths(out);
  writeFileAtomic(paths.summary, reportJson(report));
  writeFileAtomic(paths.reportMarkdown, renderMarkdown(report));
  writeFileAtomic(paths.reportHtml, renderHtml(report));
  return report;
}
