/**
 * What the page keeps in IndexedDB, as zod schemas (a value and a type of the same name). Every
 * read goes through these: a record written by an older page, edited by hand in devtools or
 * damaged is reported and skipped, never trusted.
 */
import { z } from 'zod';
import { Aggregation } from '../../core/aggregate.ts';
import { ScoringCheck } from '../../core/engine.ts';
import { SerializedError } from '../../core/errors.ts';
import { MAX_PERSONA_SHOTS, PERSONA_INFERENCE_DEFAULTS, PersonaInferenceRecord, PersonaPromptVariant } from '../../core/personaInference.ts';
import { PrefixKind } from '../../core/prefixes.ts';
import { Convention } from '../../core/scoringInput.ts';

/** A pair set is its source text: re-importing it gives the pairs, and a reload restores the editor as typed. */
export const StoredPairSet = z.object({
  id: z.string().min(1),
  name: z.string().min(1),
  sourceText: z.string(),
  /** The file it came from, when it came from one (a format hint for the importer). */
  fileName: z.string().optional(),
  createdAt: z.number(),
  updatedAt: z.number(),
});
export type StoredPairSet = z.infer<typeof StoredPairSet>;

/** Which model a persona, run or generation came from. */
export const ModelStamp = z.object({
  id: z.string(),
  label: z.string(),
  backend: z.string(),
  device: z.string(),
});
export type ModelStamp = z.infer<typeof ModelStamp>;

export const PersonaProvenance = z.discriminatedUnion('source', [
  // The core's record of how the text was inferred (layout, shots, seeds, decoding), plus the model.
  PersonaInferenceRecord.extend({
    source: z.literal('inferred'),
    model: ModelStamp,
    shots: z.number().int().positive(),
  }),
  z.object({ source: z.literal('edited'), parentId: z.string().nullable() }),
  z.object({ source: z.literal('imported'), from: z.string() }),
]);
export type PersonaProvenance = z.infer<typeof PersonaProvenance>;

export const PersonaVersion = z.object({
  id: z.string().min(1),
  pairSetId: z.string().min(1),
  person: z.string().min(1),
  text: z.string(),
  createdAt: z.number(),
  provenance: PersonaProvenance,
});
export type PersonaVersion = z.infer<typeof PersonaVersion>;

/** A resolved prefix (core `PrefixSpec`), kept with a run so resuming scores exactly what was started. */
export const StoredPrefixSpec = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('none') }),
  z.object({ kind: z.literal('tag'), tag: z.string() }),
  z.object({ kind: z.literal('name'), name: z.string() }),
  z.object({ kind: z.literal('few-shot'), shots: z.array(z.object({ prompt: z.string(), chosen: z.string() })) }),
  z.object({ kind: z.enum(['persona', 'gold', 'custom']), text: z.string() }),
]);
export type StoredPrefixSpec = z.infer<typeof StoredPrefixSpec>;

export const RunPair = z.object({
  id: z.string(),
  prompt: z.string(),
  chosen: z.string(),
  rejected: z.string(),
  type: z.enum(['personal', 'divergent']).optional(),
});
export type RunPair = z.infer<typeof RunPair>;

export const RunStatus = z.enum(['running', 'done', 'cancelled']);
export type RunStatus = z.infer<typeof RunStatus>;

export const ScoringRun = z.object({
  id: z.string().min(1),
  pairSetId: z.string(),
  person: z.string(),
  createdAt: z.number(),
  finishedAt: z.number().optional(),
  status: RunStatus,
  model: ModelStamp,
  convention: Convention,
  aggregation: Aggregation,
  seed: z.number().int(),
  promptsVersion: z.string(),
  /** The persona version the `persona` prefix used, when it was scored. */
  personaVersionId: z.string().optional(),
  prefixes: z.array(z.object({ kind: PrefixKind, spec: StoredPrefixSpec })).min(1),
  pairs: z.array(RunPair).min(1),
  /** The engine's run-time check of its scoring method on this machine, when it made one (WebLLM). */
  scoringCheck: ScoringCheck.optional(),
  /** Results scored and the seconds spent on them, summed over the sessions that ran it: its measured rate. */
  timing: z.object({ scored: z.number().int().nonnegative(), seconds: z.number().nonnegative() }).optional(),
});
export type ScoringRun = z.infer<typeof ScoringRun>;

export const ScoredAnswerRecord = z.object({
  ids: z.array(z.number().int()),
  logprobs: z.array(z.number()),
  score: z.number(),
});
export type ScoredAnswerRecord = z.infer<typeof ScoredAnswerRecord>;

const ResultKey = { runId: z.string(), kind: PrefixKind, pairId: z.string(), finishedAt: z.number() };

export const PairResult = z.discriminatedUnion('ok', [
  z.object({
    ...ResultKey,
    ok: z.literal(true),
    chosen: ScoredAnswerRecord,
    rejected: ScoredAnswerRecord,
    correct: z.boolean(),
    tie: z.boolean(),
    margin: z.number(),
    promptTokens: z.number().int(),
    method: z.string(),
  }),
  z.object({ ...ResultKey, ok: z.literal(false), error: SerializedError }),
]);
export type PairResult = z.infer<typeof PairResult>;

export const SamplingSettings = z.object({
  maxNewTokens: z.number().int().min(1).max(4096),
  temperature: z.number().min(0).max(2),
  topP: z.number().gt(0).max(1),
  topK: z.number().int().min(0),
  seed: z.number().int(),
});
export type SamplingSettings = z.infer<typeof SamplingSettings>;

export const GenerationSide = z.object({
  kind: PrefixKind,
  userContent: z.string(),
  /** The exact prompt the model saw (chat template applied). */
  prompt: z.string(),
  text: z.string(),
  finishReason: z.enum(['eos', 'length', 'aborted', 'error']),
  error: z.string().optional(),
  tokens: z.number().int().nonnegative().optional(),
  ms: z.number().nonnegative().optional(),
});
export type GenerationSide = z.infer<typeof GenerationSide>;

export const StoredGeneration = z.object({
  id: z.string().min(1),
  createdAt: z.number(),
  question: z.string(),
  person: z.string().optional(),
  model: ModelStamp,
  sampling: SamplingSettings,
  sides: z.array(GenerationSide),
});
export type StoredGeneration = z.infer<typeof StoredGeneration>;

const inferenceDefault = PERSONA_INFERENCE_DEFAULTS;

/** Persona inference options; an older page's (with `showRejected`, no layout) keeps its shots, seed and length. */
export const InferenceSettings = z.object({
  variant: PersonaPromptVariant.catch(inferenceDefault.variant),
  shots: z.number().int().min(1).max(MAX_PERSONA_SHOTS).catch(inferenceDefault.shots),
  seed: z.number().int().catch(0),
  maxNewTokens: z.number().int().min(1).max(2048).catch(inferenceDefault.maxNewTokens),
  temperature: z.number().min(0).max(2).catch(inferenceDefault.temperature),
  topP: z.number().gt(0).max(1).catch(inferenceDefault.topP),
  topK: z.number().int().min(0).catch(inferenceDefault.topK),
});
export type InferenceSettings = z.infer<typeof InferenceSettings>;

/**
 * Page settings. Each field falls back to its default on its own, so one bad or missing value
 * (an older page, a removed option) never resets the others.
 */
export const UiSettings = z.object({
  modelId: z.string().optional().catch(undefined),
  device: z.enum(['auto', 'webgpu', 'wasm']).catch('auto'),
  customModels: z.array(z.unknown()).catch([]),
  activePairSetId: z.string().optional().catch(undefined),
  person: z.string().optional().catch(undefined),
  inference: InferenceSettings.optional().catch(undefined),
  prefixKind: PrefixKind.catch('persona'),
  customPrefix: z.string().catch(''),
  sampling: SamplingSettings.optional().catch(undefined),
  scoreKinds: z.array(PrefixKind).catch(['none', 'persona']),
  aggregation: Aggregation.catch('mean'),
  convention: Convention.catch('authors'),
  personaDrafts: z.record(z.string(), z.string()).catch({}),
});
export type UiSettings = z.infer<typeof UiSettings>;
