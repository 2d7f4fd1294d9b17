/**
 * Prefix strategies (the paper's §3.4 / spec §3): how a person conditions the model. A prefix
 * is first resolved to its material (a tag, a name, shots, a persona text) from the person's
 * data, then applied to a question with the paper's wrapper (G.7–G.10). Resolution is seeded
 * and fails with a message naming what is missing.
 */
import { z } from 'zod';
import { AppError } from './errors.ts';
import { fewShotPrefixedPrompt, namePrefixedPrompt, personaPrefixedPrompt, tagPrefixedPrompt } from './prompts.ts';
import { createRng, sampleWithoutReplacement } from './random.ts';
import type { Persona, PreferencePair } from './schema.ts';

export const PrefixKind = z.enum(['none', 'tag', 'few-shot', 'persona', 'name', 'gold', 'custom']);
export type PrefixKind = z.infer<typeof PrefixKind>;

export type PrefixSpec =
  | { kind: 'none' }
  | { kind: 'tag'; tag: string }
  | { kind: 'name'; name: string }
  | { kind: 'few-shot'; shots: { prompt: string; chosen: string }[] }
  | { kind: 'persona' | 'gold' | 'custom'; text: string };

/** The authors' few-shot prefix: 2 shots of x + y_w from the person's train split (spec §3.1). */
export const FEW_SHOT_DEFAULT_COUNT = 2;

/** Where the custom prefix puts the question; without it the question follows after a blank line. */
export const CUSTOM_QUESTION_PLACEHOLDER = '{x}';

/** Persona prefix texts by kind, with the authors' `personas.json` field names accepted too (spec §1.6). */
const PREFIX_TEXT_FIELDS = {
  persona: ['persona', 'persona_xy_4s'],
  gold: ['gold', 'persona_gold_gpt4'],
  custom: ['custom'],
} as const satisfies Partial<Record<PrefixKind, readonly string[]>>;

export function specialPersonTag(index: number): string {
  return `<special_person_tag_${index}>`;
}

/** The user-turn text for `question` under `spec`. */
export function applyPrefix(spec: PrefixSpec, question: string): string {
  switch (spec.kind) {
    case 'none':
      return question;
    case 'tag':
      return tagPrefixedPrompt({ tag: spec.tag, question });
    case 'name':
      return namePrefixedPrompt({ name: spec.name, question });
    case 'few-shot':
      return fewShotPrefixedPrompt({ shots: spec.shots, question });
    case 'persona':
    case 'gold':
      return personaPrefixedPrompt({ persona: spec.text, question });
    case 'custom':
      return spec.text.includes(CUSTOM_QUESTION_PLACEHOLDER)
        ? spec.text.split(CUSTOM_QUESTION_PLACEHOLDER).join(question)
        : `${spec.text}\n\n${question}`;
  }
}

export interface PrefixSource {
  /** The person's name (from the pairs), used by `name` and to find their persona. */
  name?: string | undefined;
  persona?: Persona | undefined;
  /** The person's train split: few-shot examples are drawn from it. */
  trainPairs: readonly PreferencePair[];
  /** Stable per-person index for `tag` when the persona carries no tag of its own. */
  tagIndex?: number | undefined;
  seed: number;
  shots?: number | undefined;
}

export function resolvePrefix(kind: PrefixKind, source: PrefixSource): PrefixSpec {
  const who = source.name ?? source.persona?.name ?? 'this person';
  switch (kind) {
    case 'none':
      return { kind };
    case 'tag': {
      const tag = source.persona?.prefixes.tag ?? (source.tagIndex !== undefined ? specialPersonTag(source.tagIndex) : undefined);
      if (!tag) throw missing(kind, who, 'a tag (persona field "tag") or a person index');
      return { kind, tag };
    }
    case 'name': {
      const name = source.name ?? source.persona?.name;
      if (!name) throw missing(kind, who, 'a persona name on the pairs or in the persona file');
      return { kind, name };
    }
    case 'few-shot': {
      const count = source.shots ?? FEW_SHOT_DEFAULT_COUNT;
      if (source.trainPairs.length === 0) throw missing(kind, who, 'train-split pairs to draw shots from');
      const shots = sampleWithoutReplacement(source.trainPairs, count, createRng(source.seed));
      return { kind, shots: shots.map(({ prompt, chosen }) => ({ prompt, chosen })) };
    }
    case 'persona':
    case 'gold':
    case 'custom': {
      const text = PREFIX_TEXT_FIELDS[kind].map((field) => source.persona?.prefixes[field]).find((value) => value?.trim());
      if (!text) throw missing(kind, who, `a "${kind}" text in the persona file (field ${PREFIX_TEXT_FIELDS[kind].map((f) => `"${f}"`).join(' or ')})`);
      return { kind, text };
    }
  }
}

function missing(kind: PrefixKind, who: string, what: string): AppError {
  return new AppError('invalid-input', `Prefix "${kind}" for ${who} needs ${what}.`);
}
