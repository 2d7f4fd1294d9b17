/**
 * The page's IndexedDB layer (src/app/storage) on an in-memory IndexedDB: the migrations from an
 * older database, reads that skip damaged records, settings from an older page; and pair sets
 * exported and imported again through the page state, persona texts included.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DB_VERSION, openPlaygroundDb } from '../../../src/app/storage/db.ts';
import { PersonaVersion, UiSettings } from '../../../src/app/storage/records.ts';
import { Repository } from '../../../src/app/storage/repository.ts';
import { PERSONA_INFERENCE_DEFAULTS } from '../../../src/core/personaInference.ts';
import { makeEvalFixture } from '../../../scripts/fixtures/makeEvalFixture.ts';
import { drive } from '../../support/fakeClock.ts';
import { installPageEnvironment, openPlayground, paste, restorePageEnvironment, settle } from '../../support/pageRig.ts';

beforeEach(installPageEnvironment);
afterEach(restorePageEnvironment);

const model = { id: 'tiny-llama-random', label: 'Tiny test Llama', backend: 'transformers', device: 'wasm' };
const inferredV1 = (id: string, showRejected: boolean) => ({
  id,
  pairSetId: 'set',
  person: 'Mara Quill',
  text: `persona ${id}`,
  createdAt: 1,
  provenance: { source: 'inferred', model, shots: 2, shotIds: ['a', 'b'], seed: 7, showRejected, promptsVersion: 'wikipersonas-acl2025-appG-v1', temperature: 0.7, maxNewTokens: 256 },
});
const edited = { id: 'edited', pairSetId: 'set', person: 'Mara Quill', text: 'by hand', createdAt: 2, provenance: { source: 'edited', parentId: 'with-yl' } };

describe('IndexedDB migrations', () => {
  it('a new database gets every store at the latest version', async () => {
    const db = await openPlaygroundDb('fresh');
    expect(db.version).toBe(DB_VERSION);
    expect([...db.objectStoreNames].sort()).toEqual(['annotations', 'elicitationCheckpoints', 'generations', 'pairSets', 'personaVersions', 'results', 'runs', 'settings']);
    db.close();
  });

  it('v1 → v2: inferred personas of an older page get their G.5 layout and decoding as they were made; other records are untouched', async () => {
    const v1 = await openPlaygroundDb('old', 1);
    expect(v1.version).toBe(1);
    for (const record of [inferredV1('with-yl', true), inferredV1('without-yl', false), edited]) await v1.put('personaVersions', record);
    v1.close();

    const repo = await Repository.open('old');
    const versions = await repo.personaVersions('set', 'Mara Quill');
    expect(repo.skipped).toBe(0);
    expect(versions.map((version) => [version.id, version.provenance])).toEqual([
      ['with-yl', { ...inferredV1('with-yl', true).provenance, variant: 'authors', generationSeed: 7, topP: 1, topK: 0 }],
      ['without-yl', { ...inferredV1('without-yl', false).provenance, variant: 'paper', generationSeed: 7, topP: 1, topK: 0 }],
      ['edited', edited.provenance],
    ]);
    // Without the migration, the older records do not parse.
    expect(PersonaVersion.safeParse(inferredV1('with-yl', true)).success).toBe(false);
  });

  it('reads skip and count damaged records instead of failing', async () => {
    const db = await openPlaygroundDb('damaged');
    await db.put('personaVersions', { ...edited, id: 'broken', provenance: { source: 'guessed' } });
    await db.put('personaVersions', edited);
    await db.put('runs', { id: 'run', createdAt: 1, status: 'running' });
    db.close();
    const repo = await Repository.open('damaged');
    expect((await repo.personaVersions('set', 'Mara Quill')).map((version) => version.id)).toEqual(['edited']);
    expect(await repo.runs()).toEqual([]);
    expect(repo.skipped).toBe(2);
  });

  it('settings of an older page keep their shots, seed and length; new options take their defaults', () => {
    const settings = UiSettings.parse({ inference: { shots: 3, seed: 9, showRejected: true, maxNewTokens: 256 }, scoreKinds: ['none'] });
    expect(settings.inference).toEqual({ ...PERSONA_INFERENCE_DEFAULTS, shots: 3, seed: 9, maxNewTokens: 256 });
    expect(settings.scoreKinds).toEqual(['none']);
    expect(UiSettings.parse({ inference: { variant: 'guess', topK: -1 } }).inference).toEqual({ ...PERSONA_INFERENCE_DEFAULTS, seed: 0 });
  });
});

describe('export and import round trips', () => {
  const pairSet = makeEvalFixture({ personaTexts: true, trainPerType: 2, testPerType: 2 });

  for (const format of ['json', 'jsonl', 'csv'] as const) {
    it(`${format.toUpperCase()}: the exported pairs import as the same pairs`, async () => {
      const { playground } = await openPlayground(`roundtrip-${format}`);
      await paste(playground, JSON.stringify(pairSet));
      const exported = playground.pairs.exportText(format, {});
      expect(exported.fileName.endsWith(`.${format}`)).toBe(true);
      await drive(playground.importFile(new File([exported.text], exported.fileName)));
      await settle();
      expect(playground.pairs.result.issues).toEqual([]);
      expect(playground.pairs.result.pairs).toEqual(pairSet.pairs);
      expect(playground.pairs.sets).toHaveLength(2);
    });
  }

  it('JSON carries each person’s latest persona text (a draft wins) and brings it back as an imported version', async () => {
    const { playground } = await openPlayground('roundtrip-personas');
    await paste(playground, JSON.stringify(pairSet));
    const { persona, pairs } = playground;
    persona.text = 'Likes lentils and long bike rides.';
    await drive(persona.saveVersion());
    persona.text = 'Likes lentils and long bike rides. Prefers short answers.';
    const setId = pairs.activeId as string;
    const texts = await drive(persona.textsFor(setId, pairs.people.map((person) => person.key)));
    expect(texts[pairs.person?.key as string]).toBe('Likes lentils and long bike rides. Prefers short answers.');
    const exported = pairs.exportText('json', texts);

    await drive(playground.importFile(new File([exported.text], 'exported.json')));
    await settle();
    expect(pairs.activeId).not.toBe(setId);
    expect(persona.text).toBe('Likes lentils and long bike rides. Prefers short answers.');
    expect(persona.version?.provenance).toEqual({ source: 'imported', from: 'exported.json' });
    // Importing the same file again adds no second version of the same text.
    await drive(playground.persona.importVersions(pairs.activeId as string, texts, 'exported.json'));
    expect(await drive(playground.repo.personaVersions(pairs.activeId as string, pairs.person?.key as string))).toHaveLength(1);
  });
});
