/**
 * Persona quality, the paper's Table 2 and Table 11 (spec §4.7, §6.2): how close each prefix text
 * is to the persona's gold text (G.6, written from the name), by ROUGE-1 F (rouge_score, no
 * stemmer), and to a random OTHER persona's gold (a seeded strict derangement: no persona is
 * compared with its own gold), with whitespace word counts (Python's `str.split()`). Each is
 * reported as mean ± population standard deviation over personas, as the authors compute it.
 * Table 11 shows ROUGE-L F of chosen personas' inferred texts against their gold.
 */
import type { Persona } from '../schema.ts';
import { rouge } from '../rouge.ts';
import { wordCount } from '../words.ts';
import { PREFIX_TEXT_FIELDS } from './prefixes.ts';
import { shuffleAssignment } from './shuffle.ts';

/** Table 2's columns, in its order: each compared with the gold persona. */
export const QUALITY_COLUMNS = ['few-shot', 'persona', 'persona-gpt4', 'gold'] as const;
export type QualityColumn = (typeof QUALITY_COLUMNS)[number];

export interface MeanSd {
  mean: number;
  /** Population standard deviation (numpy's default `ddof=0`). */
  sd: number;
  n: number;
}

export interface QualityPersonaRow {
  persona: string;
  words: number;
  rouge1: number;
  /** ROUGE-1 F against `randomPartner`'s gold. */
  rouge1Random: number;
  rougeL: number;
}

export interface QualityColumnSummary {
  column: QualityColumn;
  rouge1: MeanSd;
  rouge1Random: MeanSd;
  words: MeanSd;
  personas: QualityPersonaRow[];
}

export interface QualityExample {
  persona: string;
  gold: string;
  /** ROUGE-L F against the gold, with the text, for each inferred column present. */
  texts: Partial<Record<Exclude<QualityColumn, 'gold'>, { text: string; rougeL: number }>>;
}

export interface PersonaQuality {
  seed: number;
  /** persona → persona whose gold serves as the random reference. */
  randomPartner: Record<string, string>;
  columns: QualityColumnSummary[];
  examples: QualityExample[];
  /** Personas left out for lacking a gold text. */
  withoutGold: string[];
}

export function meanSd(values: readonly number[]): MeanSd {
  const n = values.length;
  if (n === 0) return { mean: NaN, sd: NaN, n };
  const mean = values.reduce((total, value) => total + value, 0) / n;
  const variance = values.reduce((total, value) => total + (value - mean) ** 2, 0) / n;
  return { mean, sd: Math.sqrt(variance), n };
}

function columnText(persona: Persona, column: QualityColumn): string | undefined {
  return PREFIX_TEXT_FIELDS[column].map((field) => persona.prefixes[field]).find((text) => text?.trim());
}

/**
 * Table 2 and Table 11 from a prefix file's personas. `examples` names the Table 11 personas
 * (default: the first two with a gold text).
 * @throws RangeError with fewer than two personas that have a gold text (no random partner exists).
 */
export function personaQuality(personas: readonly Persona[], options: { seed: number; examples?: readonly string[] }): PersonaQuality {
  const named = personas.filter((persona): persona is Persona & { name: string } => persona.name !== undefined);
  const withGold = named.filter((persona) => columnText(persona, 'gold') !== undefined);
  if (withGold.length < 2) {
    throw new RangeError(`personaQuality: ${withGold.length} persona(s) have a gold text; comparing with a random other persona's gold needs at least 2.`);
  }
  const gold = new Map(withGold.map((persona) => [persona.name, columnText(persona, 'gold') as string]));
  const randomPartner = shuffleAssignment([...gold.keys()], { seed: options.seed, maxFixedPoints: 0 });

  const columns = QUALITY_COLUMNS.flatMap((column): QualityColumnSummary[] => {
    const rows = withGold.flatMap((persona): QualityPersonaRow[] => {
      const text = columnText(persona, column);
      if (text === undefined) return [];
      const own = rouge(gold.get(persona.name) as string, text);
      const other = rouge(gold.get(randomPartner[persona.name] as string) as string, text);
      return [{ persona: persona.name, words: wordCount(text), rouge1: own.rouge1.f1, rouge1Random: other.rouge1.f1, rougeL: own.rougeL.f1 }];
    });
    if (rows.length === 0) return [];
    return [
      {
        column,
        rouge1: meanSd(rows.map((row) => row.rouge1)),
        rouge1Random: meanSd(rows.map((row) => row.rouge1Random)),
        words: meanSd(rows.map((row) => row.words)),
        personas: rows,
      },
    ];
  });

  const exampleNames = options.examples ?? withGold.slice(0, 2).map((persona) => persona.name);
  const examples = exampleNames.map((name): QualityExample => {
    const persona = withGold.find((candidate) => candidate.name.toLowerCase() === name.toLowerCase());
    if (!persona) throw new RangeError(`personaQuality: no persona named "${name}" with a gold text.`);
    const goldText = gold.get(persona.name) as string;
    const texts: QualityExample['texts'] = {};
    for (const column of ['few-shot', 'persona', 'persona-gpt4'] as const) {
      const text = columnText(persona, column);
      if (text !== undefined) texts[column] = { text, rougeL: rouge(goldText, text).rougeL.f1 };
    }
    return { persona: persona.name, gold: goldText, texts };
  });

  return {
    seed: options.seed,
    randomPartner,
    columns,
    examples,
    withoutGold: named.filter((persona) => !gold.has(persona.name)).map((persona) => persona.name),
  };
}
