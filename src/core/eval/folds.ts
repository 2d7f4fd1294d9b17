/**
 * Fold routing for models fine-tuned with persona cross-validation (the paper's MT models, 5-fold
 * CV stratified by axis, spec §1.7, §4.6): each fold's model trained on every persona but the
 * fold's held-out ones. A fold-routed run scores each persona with the model of a fold that held
 * it out ("persona not trained", Fig. 5 and 6) and, for App. L's seen settings, with one model
 * that trained on it, and names each scored row by its fold.
 *
 * App. L's eight settings follow from two facts per row: whether the scoring model trained on the
 * persona, and which prefix it was given (the persona's own, the same strategy drawn with another
 * seed, another persona's, or none).
 */
import { z } from 'zod';
import { AppError } from '../errors.ts';
import { isReseeded, isShuffled, type EvalPrefix } from './prefixes.ts';

/** A fold's name, as the authors' folders are named (`cv0`, `cvdiet`) and engines are keyed. */
export const FoldName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, 'a fold name: letters, digits, "_", "." or "-"');

/** A folds file: each fold's held-out personas (the others trained its model). */
export const FoldsFile = z.object({ folds: z.record(FoldName, z.array(z.string().min(1)).min(1)) });
export type FoldsFile = z.infer<typeof FoldsFile>;

/** fold → the personas its model did not train on. */
export type HeldOut = Readonly<Record<string, readonly string[]>>;

export interface PersonaRoute {
  /** Run folds whose model held the persona out (usually one). */
  unseen: string[];
  /** The run fold whose model trained on the persona that scores the seen settings, if any did. */
  seen?: string;
}

/**
 * Which models score each persona. The seen model is chosen among the run's folds that trained on
 * the persona, preferring one that also trained on its shuffle partner (so App. L's "wrong seen
 * prefix" was seen in training), rotating by the persona's position so the seen work spreads
 * over the folds; deterministic, recorded in the run's manifest.
 */
export function routePersonas(personas: readonly string[], heldOut: HeldOut, runFolds: readonly string[], shuffle?: Readonly<Record<string, string>>): Record<string, PersonaRoute> {
  for (const fold of runFolds) if (!(fold in heldOut)) throw new AppError('invalid-input', `No fold named "${fold}": the folds are ${Object.keys(heldOut).join(', ')}.`);
  const holds = (fold: string, persona: string) => heldOut[fold]?.some((name) => sameName(name, persona)) ?? false;
  return Object.fromEntries(
    personas.map((persona, index) => {
      const unseen = runFolds.filter((fold) => holds(fold, persona));
      const trained = runFolds.filter((fold) => !holds(fold, persona));
      const rotated = trained.map((_, i) => trained[(index + i) % trained.length] as string);
      const partner = shuffle?.[persona];
      const seen = rotated.find((fold) => partner === undefined || !holds(fold, partner)) ?? rotated[0];
      return [persona, { unseen, ...(seen ? { seen } : {}) }];
    }),
  );
}

export function sameName(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

/** The folds whose models score `prefix` for a persona: seen-only variants (other seed) need a model that trained on the persona. */
export function foldsFor(prefix: EvalPrefix, route: PersonaRoute): string[] {
  const seen = route.seen ? [route.seen] : [];
  return isReseeded(prefix) ? seen : [...route.unseen, ...seen];
}

export const APPENDIX_L_SETTINGS = [
  { id: 'seen-persona-seen-prefix', number: 1, higherIsBetter: true, label: 'seen persona, seen prefix' },
  { id: 'seen-persona-unseen-prefix', number: 2, higherIsBetter: true, label: 'seen persona, unseen prefix (other seed)' },
  { id: 'unseen-persona', number: 3, higherIsBetter: true, label: 'unseen persona' },
  { id: 'unseen-persona-wrong-prefix', number: 4, higherIsBetter: false, label: 'unseen persona, wrong prefix' },
  { id: 'seen-persona-wrong-seen-prefix', number: 5, higherIsBetter: false, label: 'seen persona, wrong seen prefix' },
  { id: 'seen-persona-wrong-unseen-prefix', number: 6, higherIsBetter: false, label: 'seen persona, wrong unseen prefix (other seed)' },
  { id: 'seen-persona-no-prefix', number: 7, higherIsBetter: false, label: 'seen persona, no prefix' },
  { id: 'unseen-persona-no-prefix', number: 8, higherIsBetter: false, label: 'unseen persona, no prefix' },
] as const;
export type SettingId = (typeof APPENDIX_L_SETTINGS)[number]['id'];

/**
 * The App. L setting of a row scored with `prefix` by a model that did (`personaSeen`) or did not
 * train on the persona; undefined for combinations the appendix has no setting for (an unseen
 * persona given a reseeded prefix: every prefix of an unseen persona is unseen already).
 */
export function settingOf(prefix: EvalPrefix, personaSeen: boolean): SettingId | undefined {
  if (prefix === 'none') return personaSeen ? 'seen-persona-no-prefix' : 'unseen-persona-no-prefix';
  const shuffled = isShuffled(prefix);
  const reseeded = isReseeded(prefix);
  if (!personaSeen) {
    if (reseeded) return undefined;
    return shuffled ? 'unseen-persona-wrong-prefix' : 'unseen-persona';
  }
  if (shuffled) return reseeded ? 'seen-persona-wrong-unseen-prefix' : 'seen-persona-wrong-seen-prefix';
  return reseeded ? 'seen-persona-unseen-prefix' : 'seen-persona-seen-prefix';
}
