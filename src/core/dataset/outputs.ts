/**
 * The dataset's files, as relative path → text: our pairs (JSON Lines of `PreferencePair`), and the
 * authors' layouts so their scripts run on data built here (spec §1.1–1.4, §1.7):
 *
 * authors/personas.json                          name, axis ["diet: Ketogenic"], description, cv, tag
 * authors/{split}_{base}.json                    raw annotated records (§1.3), train and test
 * authors/{base}_self-yl/                        formatted "no prefix" records (§1.4):
 *   train_prefs.json                             all personas, with question_type
 *   test_personal_prefs.json, test_common_prefs.json
 *   train_{flat}_prefs.json, test_{flat}_personal_prefs.json, test_{flat}_common_prefs.json
 *   cv{0..F-1}/ and cv{Axis_Name}/               train_meta_prefs.json (train rows of the fold's
 *                                                training personas, with question_type),
 *                                                test_meta_prefs.json (their test rows, common then
 *                                                personal, with question_type), train_meta_common_prefs.json,
 *                                                train_meta_personal_prefs.json (without question_type)
 *
 * `base` follows the authors' file-name grammar (§1.1), e.g.
 * "50p_200d_total_50r_tem2.0_top0.8_cot_filtered20m4k_yl-random_cot_annotated". Every file is JSON
 * Lines as pandas writes them (`lines=True, orient="records"`), except that non-ASCII characters and
 * "/" are written as themselves rather than escaped; any JSON reader reads both the same.
 * Prefixed variants (the `…_{PREFIX}-name-prefixed` folders) need prefix texts, which a build does not
 * make: the `score` command applies prefixes itself.
 */
import { exportPairs, toAuthorsFormattedRecord, toAuthorsRawRecord } from '../exportPairs.ts';
import { specialPersonTag } from '../prefixes.ts';
import type { AuthorsFormattedRecord, PreferencePair } from '../schema.ts';
import type { BuildConfig } from './config.ts';
import type { PersonaRecord } from './records.ts';
import { axesOf, axisFolderName, axisLabels, flatName } from './roster.ts';

/** Python's `str(float)` for the sampling parameters in file names: 2 → "2.0", 0.8 → "0.8". */
export function pythonFloat(value: number): string {
  return Number.isInteger(value) ? `${value}.0` : String(value);
}

/** The authors' file-name stem for this build's annotated data (spec §1.1). */
export function authorsBaseName(config: BuildConfig, personaCount: number): string {
  const { questions, responses, filter } = config;
  const dialogues = questions.personalPerPersona + questions.divergentPerAxis;
  const candidates = responses.cotsPerQuestion * responses.answersPerCot;
  return `${personaCount}p_${dialogues}d_total_${candidates}r_tem${pythonFloat(responses.temperature)}_top${pythonFloat(responses.topP)}_cot_filtered${filter.rewardWindow}m${filter.k}k_yl-random_cot_annotated`;
}

const jsonl = (records: readonly unknown[]) => records.map((record) => `${JSON.stringify(record)}\n`).join('');

function withoutQuestionType(record: AuthorsFormattedRecord): AuthorsFormattedRecord {
  const { question_type: _dropped, ...rest } = record;
  return rest;
}

/** The authors' `personas.json` rows; `tag` is `<special_person_tag_{i}>` by roster position (spec §3.4). */
export function authorsPersonaRows(personas: readonly PersonaRecord[]): Record<string, unknown>[] {
  return personas.map((persona, index) => ({
    name: persona.name,
    axis: axisLabels(persona),
    description: persona.descriptions,
    cv: persona.cv,
    tag: specialPersonTag(index),
  }));
}

export interface DatasetFiles {
  files: Map<string, string>;
  /** The formatted folder, relative to the output folder. */
  formattedDir: string;
}

export function datasetFiles(pairs: readonly PreferencePair[], personas: readonly PersonaRecord[], config: BuildConfig): DatasetFiles {
  const files = new Map<string, string>();
  files.set('pairs.jsonl', exportPairs(pairs, 'jsonl'));
  const base = authorsBaseName(config, personas.length);
  files.set('authors/personas.json', jsonl(authorsPersonaRows(personas)));

  const train = pairs.filter((pair) => pair.split === 'train');
  const test = pairs.filter((pair) => pair.split === 'test');
  files.set(`authors/train_${base}.json`, jsonl(train.map(toAuthorsRawRecord)));
  files.set(`authors/test_${base}.json`, jsonl(test.map(toAuthorsRawRecord)));

  const dir = `authors/${base}_self-yl`;
  const formatted = (pair: PreferencePair) => toAuthorsFormattedRecord(pair, pair.prompt);
  const byType = (rows: readonly PreferencePair[], type: PreferencePair['type']) => rows.filter((pair) => pair.type === type);
  const trainRecords = train.map(formatted);
  const testPersonal = byType(test, 'personal').map((pair) => withoutQuestionType(formatted(pair)));
  const testCommon = byType(test, 'divergent').map((pair) => withoutQuestionType(formatted(pair)));
  files.set(`${dir}/train_prefs.json`, jsonl(trainRecords));
  files.set(`${dir}/test_personal_prefs.json`, jsonl(testPersonal));
  files.set(`${dir}/test_common_prefs.json`, jsonl(testCommon));

  for (const persona of personas) {
    const flat = flatName(persona.name);
    const mine = (rows: readonly PreferencePair[]) => rows.filter((pair) => pair.persona === persona.name);
    files.set(`${dir}/train_${flat}_prefs.json`, jsonl(mine(train).map(formatted)));
    files.set(`${dir}/test_${flat}_personal_prefs.json`, jsonl(byType(mine(test), 'personal').map((pair) => withoutQuestionType(formatted(pair)))));
    files.set(`${dir}/test_${flat}_common_prefs.json`, jsonl(byType(mine(test), 'divergent').map((pair) => withoutQuestionType(formatted(pair)))));
  }

  const folds: { folder: string; isTest: (persona: PersonaRecord) => boolean }[] = [
    ...Array.from({ length: config.cvFolds }, (_, fold) => ({ folder: `cv${fold}`, isTest: (persona: PersonaRecord) => persona.cv === fold })),
    ...axesOf(personas).map((axis) => ({
      folder: `cv${axisFolderName(axis)}`,
      isTest: (persona: PersonaRecord) => persona.memberships.some((membership) => membership.axis === axis),
    })),
  ];
  for (const { folder, isTest } of folds) {
    const trainingPersonas = new Set(personas.filter((persona) => !isTest(persona)).map((persona) => persona.name));
    const metaTrain = train.filter((pair) => trainingPersonas.has(pair.persona ?? ''));
    const metaTest = [...byType(test, 'divergent'), ...byType(test, 'personal')].filter((pair) => trainingPersonas.has(pair.persona ?? ''));
    files.set(`${dir}/${folder}/train_meta_prefs.json`, jsonl(metaTrain.map(formatted)));
    files.set(`${dir}/${folder}/test_meta_prefs.json`, jsonl(metaTest.map(formatted)));
    files.set(`${dir}/${folder}/train_meta_common_prefs.json`, jsonl(byType(metaTrain, 'divergent').map((pair) => withoutQuestionType(formatted(pair)))));
    files.set(`${dir}/${folder}/train_meta_personal_prefs.json`, jsonl(byType(metaTrain, 'personal').map((pair) => withoutQuestionType(formatted(pair)))));
  }
  return { files, formattedDir: dir };
}
