/**
 * Who wrote each prefix text of a prefix file, for the report: generated texts name their model
 * (the file's provenance), few-shot blocks the train draw, tags and names are fixed; texts given
 * without provenance (the authors' personas.json, a dataset's persona texts) say so.
 */
import type { PrefixFile } from './prefixFile.ts';
import { isGenerated, PREFIX_TEXT_FIELDS, textPrefix, type EvalPrefix, type TextPrefix } from './prefixes.ts';

export interface ProvenanceEntry {
  prefix: TextPrefix;
  writers: { writer: string; personas: number }[];
}

function textOf(prefixes: Readonly<Record<string, string>>, kind: keyof typeof PREFIX_TEXT_FIELDS): string | undefined {
  return PREFIX_TEXT_FIELDS[kind].map((field) => prefixes[field]).find((text) => text?.trim());
}

/** One entry per text strategy among `prefixes` (every strategy the file holds when omitted). */
export function prefixProvenance(file: PrefixFile, prefixes?: readonly EvalPrefix[]): ProvenanceEntry[] {
  const kinds = [...new Set((prefixes ?? (Object.keys(PREFIX_TEXT_FIELDS) as TextPrefix[])).map(textPrefix))].filter((kind) => kind !== 'none');
  return kinds.flatMap((kind): ProvenanceEntry[] => {
    const counts = new Map<string, number>();
    const add = (writer: string) => counts.set(writer, (counts.get(writer) ?? 0) + 1);
    for (const persona of file.personas) {
      if (kind === 'name') add('the persona\u2019s name');
      else if (kind === 'tag') add(persona.prefixes.tag ? 'a fixed tag per persona' : 'no tag');
      else if (kind === 'few-shot' || kind === 'reseed-few-shot') {
        const drawn = kind === 'few-shot' && file.provenance.fewShot?.shotIds[persona.name];
        add(textOf(persona.prefixes, kind) === undefined ? 'no text' : drawn ? `train pairs drawn with seed ${file.provenance.fewShot?.seeds[persona.name] ?? file.provenance.seed}` : 'train pairs (stored block)');
      } else if (isGenerated(kind)) {
        const made = file.provenance.generated[kind]?.[persona.name];
        add(textOf(persona.prefixes, kind) === undefined ? 'no text' : made ? made.model : 'given without provenance');
      }
    }
    if (counts.size === 0 || (counts.size === 1 && counts.has('no text'))) return [];
    return [{ prefix: kind, writers: [...counts].map(([writer, personas]) => ({ writer, personas })) }];
  });
}
