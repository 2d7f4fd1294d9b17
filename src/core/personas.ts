/**
 * Persona files: ours (`Persona` objects, a PairSet's `personas`, or `{ personas: [...] }`) and
 * the authors' `personas.json` rows (JSON Lines: `name`, `axis: ["diet: Ketogenic"]`, and one
 * column per prefix field such as `persona_xy_4s`, spec §1.2). Every string column of an
 * authors' row becomes a prefix text under its own name.
 */
import { AppError } from './errors.ts';
import { Persona } from './schema.ts';

const AUTHORS_NON_PREFIX_FIELDS = new Set(['name', 'axis', 'description', 'cv', 'shuffle_name']);

export function importPersonas(text: string, source = 'persona file'): Persona[] {
  const rows = parseRows(text, source);
  return rows.map(({ value, line }) => toPersona(value, `${source}, ${line}`));
}

/** The persona of `name`, matched case-insensitively. */
export function findPersona(personas: readonly Persona[], name: string | undefined): Persona | undefined {
  if (name === undefined) return personas.length === 1 ? personas[0] : undefined;
  const key = name.toLowerCase();
  return personas.find((persona) => persona.name?.toLowerCase() === key);
}

function parseRows(text: string, source: string): { value: unknown; line: string }[] {
  const trimmed = text.trim();
  if (trimmed === '') throw new AppError('invalid-input', `${source} is empty: expected JSON or JSON Lines personas.`);
  try {
    const document: unknown = JSON.parse(trimmed);
    const list = Array.isArray(document) ? document : (document as { personas?: unknown }).personas;
    if (Array.isArray(list)) return list.map((value, i) => ({ value, line: `item ${i + 1}` }));
    if (isRecord(document)) return [{ value: document, line: 'item 1' }];
  } catch {
    // Not one JSON document: read it as JSON Lines below.
  }
  return text.split('\n').flatMap((lineText, i) => {
    if (lineText.trim() === '') return [];
    try {
      return [{ value: JSON.parse(lineText) as unknown, line: `line ${i + 1}` }];
    } catch (error) {
      throw new AppError('invalid-input', `${source}, line ${i + 1}: not valid JSON (${(error as Error).message}).`);
    }
  });
}

function toPersona(value: unknown, where: string): Persona {
  if (!isRecord(value)) throw new AppError('invalid-input', `${where}: expected an object, got ${Array.isArray(value) ? 'array' : typeof value}.`);
  const parsed = Persona.safeParse('prefixes' in value ? value : fromAuthorsRow(value));
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new AppError('invalid-input', `${where}: field "${issue?.path.join('.') ?? ''}": ${issue?.message ?? 'invalid'}.`);
  }
  return parsed.data;
}

function fromAuthorsRow(row: Record<string, unknown>): unknown {
  const [firstAxis] = Array.isArray(row.axis) ? row.axis : typeof row.axis === 'string' ? [row.axis] : [];
  const [axis, category] = typeof firstAxis === 'string' ? firstAxis.split(':').map((part) => part.trim()) : [];
  const prefixes = Object.fromEntries(
    Object.entries(row).filter(([key, text]) => !AUTHORS_NON_PREFIX_FIELDS.has(key) && typeof text === 'string'),
  );
  return { name: row.name, ...(axis ? { axis } : {}), ...(category ? { category } : {}), prefixes };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
