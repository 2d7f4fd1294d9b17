/**
 * The people of a build, from the config's persona source: the Table 7 roster (optionally narrowed
 * to some axes or names), a list given in the config, or G.1 replies. Every person ends with a CV
 * fold: the authors' for roster people, the config's when a list gives one, else axis-stratified.
 */
import { AppError } from '../errors.ts';
import type { BuildConfig } from './config.ts';
import { parsePersonaSelection, personasFromSelections } from './personaParsing.ts';
import type { PersonaRecord } from './records.ts';
import { AXES, assignFolds, tableSevenRoster } from './roster.ts';

/** The people when no model call is needed (roster, list); undefined for `generate`. */
export function configuredPersonas(config: BuildConfig): PersonaRecord[] | undefined {
  const source = config.personas;
  if (source.source === 'generate') return undefined;
  if (source.source === 'roster') {
    let people = tableSevenRoster();
    if (source.axes) {
      const axes = new Set<string>(source.axes);
      // A narrowed roster keeps only the chosen axes' memberships (Obama in D_small-like builds has none).
      people = people
        .map((person) => ({ ...person, memberships: person.memberships.filter((m) => axes.has(m.axis)) }))
        .filter((person) => person.memberships.length > 0);
    }
    if (source.names) {
      const known = new Set(people.map((person) => person.name));
      const unknown = source.names.filter((name) => !known.has(name));
      if (unknown.length > 0) {
        throw new AppError('invalid-input', `personas.names: ${unknown.map((n) => JSON.stringify(n)).join(', ')} ${unknown.length > 1 ? 'are' : 'is'} not in the Table 7 roster${source.axes ? ' on the chosen axes' : ''}; check the spelling ("Gordon Ramsey" is spelled as the authors do).`);
      }
      const wanted = new Set(source.names);
      people = people.filter((person) => wanted.has(person.name));
    }
    return people.map((person) => ({ ...person, cv: person.cv % config.cvFolds }));
  }
  const people = source.people.map((person) => ({
    name: person.name,
    memberships: person.memberships,
    descriptions: person.description === undefined ? [] : [person.description],
  }));
  const duplicate = people.find((person, index) => people.findIndex((other) => other.name === person.name) !== index);
  if (duplicate) throw new AppError('invalid-input', `personas.people: "${duplicate.name}" is listed twice; give one entry with several memberships.`);
  const folds = assignFolds(people, AXES, config.cvFolds);
  return people.map((person, index) => ({ ...person, cv: source.people[index]?.cv ?? folds.get(person.name) ?? 0 }));
}

/** People from the G.1 replies of `generate` (at most `maxPerAxis` per axis, in reply order). */
export function generatedPersonas(config: BuildConfig, replies: readonly { axis: string; reply: string }[]): { personas: PersonaRecord[]; unusable: { axis: string; raw: string }[] } {
  if (config.personas.source !== 'generate') throw new AppError('internal', 'generatedPersonas needs personas.source = "generate".');
  const maxPerAxis = config.personas.maxPerAxis;
  const unusable: { axis: string; raw: string }[] = [];
  const lines = replies.flatMap(({ axis, reply }) => {
    const parsed = parsePersonaSelection(reply, axis).slice(0, maxPerAxis);
    if (parsed.length === 0) unusable.push({ axis, raw: reply });
    return parsed;
  });
  const people = personasFromSelections(lines);
  const folds = assignFolds(people, config.personas.axes, config.cvFolds);
  return { personas: people.map((person) => ({ ...person, cv: folds.get(person.name) ?? 0 })), unusable };
}
