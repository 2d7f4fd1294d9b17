/**
 * The prefix file: every prefix text a run used, one persona per entry in our persona-file
 * format (`{ personas: [{ name, prefixes: { tag, persona, gold, … } }] }`, which
 * `score --persona-file` and the page read), plus how each text was made: seeds, the shots it was
 * inferred from, the model, the decoding settings, and the shuffle assignment. A later run passes
 * it back with `--prefix-file` and scores exactly the same prefixes.
 */
import { z } from 'zod';
import { PersonaPromptVariant } from '../personaInference.ts';
import { Persona } from '../schema.ts';
import { GENERATED_PREFIXES, PREFIX_TEXT_FIELDS, type GeneratedPrefix } from './prefixes.ts';

export const PREFIX_FILE_FORMAT = 'wikipersona-prefixes';

/** How one generated text (an inferred or gold persona) was made. */
export const GeneratedTextProvenance = z.object({
  /** Engine or provider id, e.g. "transformers:/models/zephyr" or "openai:gpt-4-0613". */
  model: z.string(),
  seed: z.number().int(),
  temperature: z.number(),
  /** Absent in files written before it was recorded (they sampled with top-p 1). */
  topP: z.number().optional(),
  /** The top-k the engine sampled with (0: off); absent where none was sent (a chat API such as GPT-4's). */
  topK: z.number().int().nonnegative().optional(),
  maxNewTokens: z.number().int().positive(),
  /** Ids of the train pairs shown (G.5); empty for the gold persona, made from the name (G.6). */
  shotIds: z.array(z.string()),
  /** G.5's layout: the paper's (x, y_w) or the authors' code's (x, y_w, y_l); absent for gold (G.6). */
  variant: PersonaPromptVariant.optional(),
  /** Whether the shots showed the rejected response too (the authors' `xy` variant does). */
  showRejected: z.boolean().optional(),
  finishReason: z.string().optional(),
  promptsVersion: z.string(),
});
export type GeneratedTextProvenance = z.infer<typeof GeneratedTextProvenance>;

const ByPersona = <T extends z.ZodType>(value: T) => z.record(z.string(), value);

export const PrefixProvenance = z.object({
  /** The run's seed; every per-persona seed below is derived from it. */
  seed: z.number().int(),
  dataset: z.object({ source: z.string(), fingerprint: z.string() }),
  /** Few-shot draws: per persona, the derived seed and the ids of the train pairs shown. */
  fewShot: z.object({ shots: z.number().int().positive(), seeds: ByPersona(z.number().int()), shotIds: ByPersona(z.array(z.string())) }).optional(),
  generated: z.partialRecord(z.enum(GENERATED_PREFIXES), ByPersona(GeneratedTextProvenance)).default({}),
  shuffle: z
    .object({
      seed: z.number().int(),
      maxFixedPoints: z.number().int().nonnegative(),
      /** persona → persona whose prefix it receives. */
      assignment: ByPersona(z.string()),
    })
    .optional(),
});
export type PrefixProvenance = z.infer<typeof PrefixProvenance>;

export const PrefixFile = z.object({
  format: z.literal(PREFIX_FILE_FORMAT),
  version: z.literal(1),
  personas: z.array(Persona.extend({ name: z.string().min(1) })),
  provenance: PrefixProvenance,
});
export type PrefixFile = z.infer<typeof PrefixFile>;

/** The text of a generated prefix in a persona's prefixes, under any of its field names. */
export function generatedText(prefixes: Readonly<Record<string, string>>, kind: GeneratedPrefix): string | undefined {
  return PREFIX_TEXT_FIELDS[kind].map((field) => prefixes[field]).find((text) => text?.trim());
}

/** The field a prefix text is written under (the first listed, readable by `score --persona-file`). */
export function writtenField(kind: keyof typeof PREFIX_TEXT_FIELDS): string {
  return PREFIX_TEXT_FIELDS[kind][0];
}
