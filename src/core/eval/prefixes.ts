/**
 * Prefix strategies as the batch evaluation names them (spec §1.6, §3): the score command's kinds
 * plus `persona-gpt4` (a persona inferred by a stronger model through an API role) and the
 * `reseed-*` and `shuffle-*` variants of Appendix L (the same strategy drawn with another seed; each
 * persona receiving another persona's prefix). Also the
 * mapping between a strategy and the prefix-file fields that hold its text, so a prefix file is
 * readable by `score --persona-file` (fields `tag`, `persona`, `gold`) and keeps the authors'
 * names where ours have none (`persona_xy_4s_gpt4`, `xyw_2s`).
 */
import { z } from 'zod';
import { AppError, type ErrorCode } from '../errors.ts';
import type { PrefixSpec } from '../prefixes.ts';

export const BASE_EVAL_PREFIXES = ['none', 'tag', 'few-shot', 'persona', 'persona-gpt4', 'name', 'gold'] as const;
export const BaseEvalPrefix = z.enum(BASE_EVAL_PREFIXES);
export type BaseEvalPrefix = z.infer<typeof BaseEvalPrefix>;

/**
 * Strategies with a seeded alternative (App. L's "unseen prefix": the same strategy with another
 * seed, the authors' `_seed1` fields): other shots for few-shot and the inferred personas, another
 * sampling seed for the gold persona. A persona has one name and one tag, so those have none.
 */
export const RESEEDABLE_PREFIXES = ['few-shot', 'persona', 'persona-gpt4', 'gold'] as const satisfies readonly BaseEvalPrefix[];
export type ReseedablePrefix = (typeof RESEEDABLE_PREFIXES)[number];

/**
 * Every strategy a run can score, in the report's order: the base strategies, their `reseed-`
 * variants, the `shuffle-` variants (each persona receives another persona's prefix) and the
 * `shuffle-reseed-` ones (another persona's prefix, drawn with the other seed).
 */
export const EvalPrefix = z.enum([
  ...BASE_EVAL_PREFIXES,
  'reseed-few-shot',
  'reseed-persona',
  'reseed-persona-gpt4',
  'reseed-gold',
  'shuffle-tag',
  'shuffle-few-shot',
  'shuffle-persona',
  'shuffle-persona-gpt4',
  'shuffle-name',
  'shuffle-gold',
  'shuffle-reseed-few-shot',
  'shuffle-reseed-persona',
  'shuffle-reseed-persona-gpt4',
  'shuffle-reseed-gold',
]);
export type EvalPrefix = z.infer<typeof EvalPrefix>;
export type ShuffledEvalPrefix = Extract<EvalPrefix, `shuffle-${string}`>;
/** Whose text a prefix uses is decided by the shuffle; what text, by this part: a base strategy or a reseeded one. */
export type TextPrefix = Exclude<EvalPrefix, ShuffledEvalPrefix>;
export type ReseededPrefix = Extract<TextPrefix, `reseed-${string}`>;

const SHUFFLE = 'shuffle-';
const RESEED = 'reseed-';

export function isShuffled(prefix: EvalPrefix): prefix is ShuffledEvalPrefix {
  return prefix.startsWith(SHUFFLE);
}

/** The prefix without its shuffle: `shuffle-reseed-persona` → `reseed-persona`. */
export function textPrefix(prefix: EvalPrefix): TextPrefix {
  return (isShuffled(prefix) ? prefix.slice(SHUFFLE.length) : prefix) as TextPrefix;
}

export function isReseeded(prefix: EvalPrefix): boolean {
  return textPrefix(prefix).startsWith(RESEED);
}

/** The strategy whose material a prefix uses: `shuffle-reseed-persona` → `persona`. */
export function basePrefix(prefix: EvalPrefix): BaseEvalPrefix {
  const text = textPrefix(prefix);
  return BaseEvalPrefix.parse(text.startsWith(RESEED) ? text.slice(RESEED.length) : text);
}

export function shuffledPrefix(prefix: Exclude<TextPrefix, 'none'>): ShuffledEvalPrefix {
  return EvalPrefix.parse(`${SHUFFLE}${prefix}`) as ShuffledEvalPrefix;
}

export function reseededPrefix(base: ReseedablePrefix): ReseededPrefix {
  return EvalPrefix.parse(`${RESEED}${base}`) as ReseededPrefix;
}

export function isReseedable(base: BaseEvalPrefix): base is ReseedablePrefix {
  return (RESEEDABLE_PREFIXES as readonly string[]).includes(base);
}

/** Report order: the enum's, whatever order the user listed them in. */
export function sortPrefixes(prefixes: Iterable<EvalPrefix>): EvalPrefix[] {
  const order = EvalPrefix.options;
  return [...new Set(prefixes)].sort((a, b) => order.indexOf(a) - order.indexOf(b));
}

/**
 * `"none,tag,few-shot"` → the list, rejecting unknown names with the list of known ones.
 * `shuffle-*`, `reseed-*` and `shuffle-reseed-*` stand for those variants of every base strategy
 * listed that has one (`none,persona,gold,shuffle-*` adds shuffle-persona and shuffle-gold).
 */
export function parsePrefixList(text: string): EvalPrefix[] {
  const names = text
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name !== '');
  if (names.length === 0) throw new AppError('invalid-input', 'No prefix given: list one or more of ' + EvalPrefix.options.join(', ') + '.');
  const wildcards = names.filter((name) => name.endsWith('*'));
  const explicit = names.filter((name) => !name.endsWith('*'));
  const unknown = [...explicit.filter((name) => !EvalPrefix.safeParse(name).success), ...wildcards.filter((name) => !WILDCARDS.includes(name))];
  if (unknown.length > 0) {
    throw new AppError('invalid-input', `Unknown prefix ${unknown.map((name) => `"${name}"`).join(', ')}: use ${EvalPrefix.options.join(', ')}, or ${WILDCARDS.join(', ')}.`);
  }
  const listed = explicit.map((name) => EvalPrefix.parse(name));
  const bases = listed.filter((prefix): prefix is BaseEvalPrefix => BaseEvalPrefix.safeParse(prefix).success);
  const expanded = wildcards.flatMap((wildcard) =>
    bases.flatMap((base) => {
      const candidate = `${wildcard.slice(0, -1)}${base}`;
      return EvalPrefix.safeParse(candidate).success ? [EvalPrefix.parse(candidate)] : [];
    }),
  );
  return sortPrefixes([...listed, ...expanded]);
}

const WILDCARDS = [`${SHUFFLE}*`, `${RESEED}*`, `${SHUFFLE}${RESEED}*`];

/** Strategies whose text is generated by a model: who generates it decides which role is needed. */
export const GENERATED_PREFIXES = ['persona', 'persona-gpt4', 'gold', 'reseed-persona', 'reseed-persona-gpt4', 'reseed-gold'] as const satisfies readonly TextPrefix[];
export type GeneratedPrefix = (typeof GENERATED_PREFIXES)[number];

export function isGenerated(prefix: TextPrefix): prefix is GeneratedPrefix {
  return (GENERATED_PREFIXES as readonly string[]).includes(prefix);
}

/**
 * Prefix-file fields per strategy: the first is written, all are read (ours, then the authors'
 * `personas.json` column names, spec §1.6). `few-shot` is stored for reading and auditing only:
 * its shots are re-drawn from the seed and checked against it.
 */
export const PREFIX_TEXT_FIELDS = {
  tag: ['tag'],
  'few-shot': ['xyw_2s'],
  persona: ['persona', 'persona_xy_4s'],
  'persona-gpt4': ['persona_xy_4s_gpt4'],
  gold: ['gold', 'persona_gold_gpt4'],
  'reseed-few-shot': ['xyw_2s_reseed', 'xyw_2s_seed1'],
  'reseed-persona': ['persona_reseed', 'persona_xy_4s_seed1'],
  'reseed-persona-gpt4': ['persona_xy_4s_gpt4_reseed', 'persona_xy_4s_gpt4_seed1'],
  'reseed-gold': ['gold_reseed', 'persona_gold_gpt4_seed1'],
} as const satisfies Partial<Record<TextPrefix, readonly [string, ...string[]]>>;

/** The strategies whose material is made per persona (shots or a generated text). */
export type MaterialKind = Exclude<TextPrefix, 'none' | 'tag' | 'name'>;

/** What one persona brings to every strategy; absent texts simply are not available yet. */
export interface PersonaMaterial {
  name: string;
  tag: string;
  /** The persona's train split shots (x, y_w), drawn with the run's seed. */
  fewShot?: { prompt: string; chosen: string }[];
  /** Other shots, drawn with the other seed (App. L's unseen prefix). */
  reseedFewShot?: { prompt: string; chosen: string }[];
  persona?: string;
  'persona-gpt4'?: string;
  gold?: string;
  'reseed-persona'?: string;
  'reseed-persona-gpt4'?: string;
  'reseed-gold'?: string;
  /** Why a strategy's material could not be made (a failed generation, no train pairs): its pairs fail with this. */
  unavailable?: Partial<Record<MaterialKind, { code: ErrorCode; reason: string }>>;
}

/**
 * The prefix spec for `prefix` of `persona`. Shuffled strategies take the material of
 * `shuffle[persona]`, the persona it was assigned in the run's shuffle.
 */
export function evalPrefixSpec(
  prefix: EvalPrefix,
  persona: string,
  material: ReadonlyMap<string, PersonaMaterial>,
  shuffle?: Readonly<Record<string, string>>,
): { spec: PrefixSpec; from: string } {
  const from = isShuffled(prefix) ? shuffle?.[persona] : persona;
  if (from === undefined) throw new AppError('invalid-input', `Prefix "${prefix}" needs a shuffle assignment for ${persona}.`);
  const source = material.get(from);
  if (!source) throw new AppError('invalid-input', `No prefix material for persona ${from}.`);
  const kind = textPrefix(prefix);
  const lacking = () => {
    const known = kind === 'none' || kind === 'tag' || kind === 'name' ? undefined : source.unavailable?.[kind];
    return known
      ? new AppError(known.code, `Prefix "${kind}" of ${from} is unavailable: ${known.reason}`)
      : new AppError('invalid-input', `Prefix "${kind}" of ${from} has no text: build it first or give it in --prefix-file.`);
  };
  switch (kind) {
    case 'none':
      return { spec: { kind: 'none' }, from };
    case 'tag':
      return { spec: { kind: 'tag', tag: source.tag }, from };
    case 'name':
      return { spec: { kind: 'name', name: source.name }, from };
    case 'few-shot':
    case 'reseed-few-shot': {
      const shots = kind === 'few-shot' ? source.fewShot : source.reseedFewShot;
      if (!shots?.length) throw lacking();
      return { spec: { kind: 'few-shot', shots }, from };
    }
    default: {
      const text = source[kind];
      if (!text?.trim()) throw lacking();
      // G.10 wraps every persona text the same way, whoever wrote it.
      return { spec: { kind: basePrefix(kind) === 'gold' ? 'gold' : 'persona', text }, from };
    }
  }
}

/**
 * The few-shot block as the authors store it in `personas.json` (`xyw_2s`, spec §3.1): per shot
 * "## Prompt:", x, "### Preferred Response:", y_w, shots separated by a blank line. Written to
 * the prefix file so the shots can be read and checked; scoring wraps them with G.9.
 */
export function fewShotBlock(shots: readonly { prompt: string; chosen: string }[]): string {
  return shots.map(({ prompt, chosen }) => `## Prompt:\n${prompt}\n### Preferred Response:\n${chosen}`).join('\n\n');
}

/** The inverse of `fewShotBlock`, or undefined when `text` is not such a block (then it cannot be re-wrapped exactly). */
export function parseFewShotBlock(text: string): { prompt: string; chosen: string }[] | undefined {
  const shots = text.split(/\n\n(?=## Prompt:\n)/).map((block) => {
    const match = /^## Prompt:\n([\s\S]*?)\n### Preferred Response:\n([\s\S]*)$/.exec(block);
    return match ? { prompt: match[1] as string, chosen: match[2] as string } : undefined;
  });
  if (shots.length === 0 || shots.some((shot) => shot === undefined)) return undefined;
  const parsed = shots as { prompt: string; chosen: string }[];
  // Answers containing the separator would split differently: only an exact round trip is accepted.
  return fewShotBlock(parsed) === text ? parsed : undefined;
}
