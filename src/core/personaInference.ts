/**
 * Persona inference (the paper's G.5): which of a person's train pairs are shown, the prompt, and
 * the decoding. One rule for the page and the CLI, so the same train pairs, person and seed give the
 * same shots, the same prompt and the same sampling options in both.
 *
 * Decisions, from the paper and the authors' code (reference spec §3.2, §7.11):
 * - Shots: 4 train pairs drawn at random (the paper's footnote 10 and Table 11: "randomly sampled 4
 *   shots"; the authors' `persona_xy_4s`). G.5's printed prompt illustrates the layout with n = 2.
 * - Layout: the paper prints G.5 with x and y_w only and says y_l made no significant difference;
 *   the authors' code (`xy` fields) shows y_l too. Both are offered (`variant`), the paper's by
 *   default, and every text records which one made it.
 * - The draw is seeded per person: shots from `deriveSeed(seed, "persona-shots", person)`. With one
 *   seed for everyone, every person would be shown the train pairs at the same positions, i.e. the
 *   same shared divergent questions for every member of an axis; the authors' unseeded fields draw
 *   from one global generator that moves on between personas, so theirs differ per persona too. A
 *   per-person seed keeps that property and makes one person's shots independent of the others'.
 * - Decoding: the paper's App. K, "default generation parameters" of Zephyr: temperature 1, top-p 1,
 *   512 new tokens; and top-k 50, Hugging Face `generate`'s default that the authors ran with. The
 *   generation seed is derived per person the same way.
 */
import { z } from 'zod';
import type { CancelSignal } from './cancel.ts';
import type { ChatMessage } from './chat.ts';
import { deriveSeed, rngFor } from './dataset/seeds.ts';
import type { Engine, FinishReason, GenerateOptions, TokenListener } from './engine.ts';
import { AppError } from './errors.ts';
import { ASSISTANT_SYSTEM_PROMPT, PROMPTS_VERSION, personaInferencePrompt } from './prompts.ts';
import { sampleWithoutReplacement } from './random.ts';

/** `paper`: G.5 as printed, shots of x and y_w. `authors`: their code's `persona_xy`, shots of x, y_w and y_l. */
export const PersonaPromptVariant = z.enum(['paper', 'authors']);
export type PersonaPromptVariant = z.infer<typeof PersonaPromptVariant>;

export const PERSONA_PROMPT_VARIANT_LABELS: Record<PersonaPromptVariant, string> = {
  paper: 'the paper’s G.5 (x, y_w)',
  authors: 'the authors’ code (x, y_w, y_l)',
};

/** Whether a variant's shots show the dispreferred response. */
export function showsRejected(variant: PersonaPromptVariant): boolean {
  return variant === 'authors';
}

/** The most shots either front end offers (the authors tried up to 16). */
export const MAX_PERSONA_SHOTS = 16;

export const PersonaInferenceSettings = z.object({
  variant: PersonaPromptVariant,
  shots: z.number().int().min(1).max(MAX_PERSONA_SHOTS),
  maxNewTokens: z.number().int().positive(),
  temperature: z.number().min(0),
  topP: z.number().gt(0).max(1),
  /** 0 turns top-k off. */
  topK: z.number().int().nonnegative(),
});
export type PersonaInferenceSettings = z.infer<typeof PersonaInferenceSettings>;

export const PERSONA_INFERENCE_DEFAULTS: Readonly<PersonaInferenceSettings> = Object.freeze({
  variant: 'paper',
  shots: 4,
  maxNewTokens: 512,
  temperature: 1,
  topP: 1,
  topK: 50,
});

/** A train pair that can be shown as a shot. */
export interface PersonaShotPair {
  id: string;
  prompt: string;
  chosen: string;
  rejected: string;
}

export interface PersonaInferenceInput<P extends PersonaShotPair> {
  /** Whose persona: their name (the page's person key). Seeds are derived from it. */
  person: string;
  /** Their train split, in the order of the pair set or dataset. */
  train: readonly P[];
  seed: number;
  settings: PersonaInferenceSettings;
  /** Which text this is (e.g. "persona-gpt4" in eval): each has its own draw. Default "persona". */
  purpose?: string;
}

/** How a text was inferred: what the page and the prefix file record. */
export const PersonaInferenceRecord = z.object({
  variant: PersonaPromptVariant,
  showRejected: z.boolean(),
  shotIds: z.array(z.string()),
  /** The seed asked for; the shots and the generation use seeds derived from it and the person. */
  seed: z.number().int(),
  generationSeed: z.number().int(),
  temperature: z.number(),
  topP: z.number(),
  topK: z.number().int(),
  maxNewTokens: z.number().int().positive(),
  promptsVersion: z.string(),
});
export type PersonaInferenceRecord = z.infer<typeof PersonaInferenceRecord>;

export interface PersonaInferencePlan<P extends PersonaShotPair> {
  shots: P[];
  /** G.5 with the authors' system turn. */
  messages: ChatMessage[];
  /** What `Engine.generate` takes. */
  options: GenerateOptions & { seed: number };
  record: PersonaInferenceRecord;
}

/** The shots, prompt and decoding for one person's persona; throws when they have no train pairs. */
export function planPersonaInference<P extends PersonaShotPair>(input: PersonaInferenceInput<P>): PersonaInferencePlan<P> {
  const settings = PersonaInferenceSettings.parse(input.settings);
  const purpose = input.purpose ?? 'persona';
  if (input.train.length === 0) {
    throw new AppError('invalid-input', `${input.person} has no train pairs to infer a persona from: mark some pairs "split": "train".`);
  }
  const shots = sampleWithoutReplacement(input.train, settings.shots, rngFor(input.seed, `${purpose}-shots`, input.person));
  const showRejected = showsRejected(settings.variant);
  const messages: ChatMessage[] = [
    { role: 'system', content: ASSISTANT_SYSTEM_PROMPT },
    { role: 'user', content: personaInferencePrompt({ shots, showRejected }) },
  ];
  const generationSeed = deriveSeed(input.seed, `${purpose}-generate`, input.person);
  const { maxNewTokens, temperature, topP, topK } = settings;
  return {
    shots,
    messages,
    options: { maxNewTokens, temperature, topP, topK, seed: generationSeed },
    record: {
      variant: settings.variant,
      showRejected,
      shotIds: shots.map((shot) => shot.id),
      seed: input.seed,
      generationSeed,
      temperature,
      topP,
      topK,
      maxNewTokens,
      promptsVersion: PROMPTS_VERSION,
    },
  };
}

export interface InferredPersona {
  /** The completion, stripped, as the authors store it. May be empty: the caller decides what that means. */
  text: string;
  finishReason: FinishReason;
  /** Tokens generated. */
  tokens: number;
}

/**
 * Runs a plan on an engine, streaming deltas to `onToken`. Throws `aborted` when cancelled, so a
 * partial text is never mistaken for a finished persona.
 */
export async function inferPersona(
  engine: Pick<Engine, 'generate'>,
  plan: PersonaInferencePlan<PersonaShotPair>,
  onToken?: TokenListener,
  signal?: CancelSignal,
): Promise<InferredPersona> {
  const result = await engine.generate(plan.messages, plan.options, onToken, signal);
  if (result.finishReason === 'aborted') throw new AppError('aborted', 'Cancelled.');
  return { text: result.text.trim(), finishReason: result.finishReason, tokens: result.tokenIds.length };
}
