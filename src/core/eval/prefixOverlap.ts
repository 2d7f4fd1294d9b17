/**
 * Table 13 (App. L): how much a prefix shares with its shuffled counterpart (the prefix of the
 * persona it was swapped with), by ROUGE-Lsum as rouge_score computes it, for the prefix text
 * alone and with the wrapper prompt around it (G.7–G.10 with an empty question: "Respond to the
 * following prompt from this person…"). Per strategy: the mean length in words (Python's split),
 * the mean ROUGE-Lsum F, and their product, as the paper's columns. The prefix is the reference
 * and the shuffled one the prediction; F is symmetric in the two for a single sentence.
 */
import { applyPrefix, specialPersonTag, type PrefixSpec } from '../prefixes.ts';
import { rougeLsum } from '../rouge.ts';
import type { Persona } from '../schema.ts';
import { wordCount } from '../words.ts';
import { meanSd } from './personaQuality.ts';
import { parseFewShotBlock, PREFIX_TEXT_FIELDS } from './prefixes.ts';

export const OVERLAP_COLUMNS = ['tag', 'few-shot', 'persona', 'persona-gpt4', 'name', 'gold'] as const;
export type OverlapColumn = (typeof OVERLAP_COLUMNS)[number];

export interface OverlapSide {
  /** Mean words of the prefix (alone, or wrapped). */
  length: number;
  /** Mean ROUGE-Lsum F against the shuffled counterpart. */
  rouge: number;
  /** length × rouge: an estimate of the words shared, as Table 13. */
  product: number;
}

export interface OverlapColumnSummary {
  column: OverlapColumn;
  personas: number;
  alone: OverlapSide;
  withWrapper: OverlapSide;
}

export interface PrefixOverlap {
  /** persona → persona whose prefix it received. */
  shuffle: Record<string, string>;
  columns: OverlapColumnSummary[];
}

interface ColumnText {
  text: string;
  spec: PrefixSpec;
}

function columnText(persona: Persona & { name: string }, index: number, column: OverlapColumn): ColumnText | undefined {
  if (column === 'name') return { text: persona.name, spec: { kind: 'name', name: persona.name } };
  if (column === 'tag') {
    const tag = persona.prefixes.tag ?? specialPersonTag(index);
    return { text: tag, spec: { kind: 'tag', tag } };
  }
  const text = PREFIX_TEXT_FIELDS[column].map((field) => persona.prefixes[field]).find((value) => value?.trim());
  if (text === undefined) return undefined;
  if (column === 'few-shot') {
    const shots = parseFewShotBlock(text);
    return shots ? { text, spec: { kind: 'few-shot', shots } } : undefined;
  }
  return { text, spec: { kind: column === 'gold' ? 'gold' : 'persona', text } };
}

/** The wrapper prompt around a prefix with no question (the question is what the personas share least). */
function wrapped(spec: PrefixSpec): string {
  return applyPrefix(spec, '').trim();
}

function side(lengths: readonly number[], rouges: readonly number[]): OverlapSide {
  const length = meanSd(lengths).mean;
  const rouge = meanSd(rouges).mean;
  return { length, rouge, product: length * rouge };
}

export function prefixOverlap(personas: readonly Persona[], shuffle: Readonly<Record<string, string>>): PrefixOverlap {
  const named = personas.filter((persona): persona is Persona & { name: string } => persona.name !== undefined);
  const indexOf = new Map(named.map((persona, index) => [persona.name, index]));
  const byName = new Map(named.map((persona) => [persona.name, persona]));
  const columns = OVERLAP_COLUMNS.flatMap((column): OverlapColumnSummary[] => {
    const alone = { lengths: [] as number[], rouges: [] as number[] };
    const withWrapper = { lengths: [] as number[], rouges: [] as number[] };
    for (const persona of named) {
      const partner = byName.get(shuffle[persona.name] ?? '');
      if (!partner) continue;
      const own = columnText(persona, indexOf.get(persona.name) as number, column);
      const other = columnText(partner, indexOf.get(partner.name) as number, column);
      if (!own || !other) continue;
      alone.lengths.push(wordCount(own.text));
      alone.rouges.push(rougeLsum(own.text, other.text).f1);
      withWrapper.lengths.push(wordCount(wrapped(own.spec)));
      withWrapper.rouges.push(rougeLsum(wrapped(own.spec), wrapped(other.spec)).f1);
    }
    if (alone.rouges.length === 0) return [];
    return [{ column, personas: alone.rouges.length, alone: side(alone.lengths, alone.rouges), withWrapper: side(withWrapper.lengths, withWrapper.rouges) }];
  });
  return { shuffle: { ...shuffle }, columns };
}
