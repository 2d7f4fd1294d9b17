import { describe, expect, it } from 'vitest';
import { APPENDIX_L_SETTINGS, foldsFor, routePersonas, settingOf } from '../../src/core/eval/folds.ts';
import { parsePrefixList } from '../../src/core/eval/prefixes.ts';

const heldOut = { cv0: ['A', 'B'], cv1: ['C', 'D'], cv2: ['E', 'F'] };
const names = ['A', 'B', 'C', 'D', 'E', 'F'];

describe('routePersonas', () => {
  it('sends each persona to the fold that held it out, and its seen settings to one that trained on it', () => {
    const routes = routePersonas(names, heldOut, ['cv0', 'cv1', 'cv2']);
    for (const name of names) {
      const fold = Object.entries(heldOut).find(([, held]) => held.includes(name))?.[0];
      expect(routes[name]?.unseen).toEqual([fold]);
      expect(routes[name]?.seen).toBeDefined();
      expect(routes[name]?.seen).not.toBe(fold);
    }
    // Rotation spreads the seen work: not every persona goes to the same fold.
    expect(new Set(names.map((name) => routes[name]?.seen)).size).toBeGreaterThan(1);
  });

  it('prefers a seen model that also trained on the shuffle partner', () => {
    // A's partner C is held out by cv1, so A's seen model must be cv2 (which trained on both).
    const routes = routePersonas(names, heldOut, ['cv0', 'cv1', 'cv2'], { A: 'C', B: 'A', C: 'B', D: 'E', E: 'F', F: 'D' });
    expect(routes.A?.seen).toBe('cv2');
    // F's partner D is held out by cv1: cv0 is the only model that trained on both.
    expect(routes.F?.seen).toBe('cv0');
  });

  it('leaves a persona without an unseen model when its fold has no engine, and refuses unknown folds', () => {
    const routes = routePersonas(names, heldOut, ['cv0', 'cv1']);
    expect(routes.E).toMatchObject({ unseen: [] });
    expect(() => routePersonas(names, heldOut, ['cv7'])).toThrow(/No fold named "cv7"/);
  });
});

describe("App. L's settings", () => {
  it('places every (prefix, seen) combination in its setting, and other-seed prefixes only with seen models', () => {
    expect(settingOf('persona', true)).toBe('seen-persona-seen-prefix');
    expect(settingOf('reseed-persona', true)).toBe('seen-persona-unseen-prefix');
    expect(settingOf('persona', false)).toBe('unseen-persona');
    expect(settingOf('shuffle-persona', false)).toBe('unseen-persona-wrong-prefix');
    expect(settingOf('shuffle-persona', true)).toBe('seen-persona-wrong-seen-prefix');
    expect(settingOf('shuffle-reseed-persona', true)).toBe('seen-persona-wrong-unseen-prefix');
    expect(settingOf('none', true)).toBe('seen-persona-no-prefix');
    expect(settingOf('none', false)).toBe('unseen-persona-no-prefix');
    expect(settingOf('reseed-gold', false)).toBeUndefined();
    expect(APPENDIX_L_SETTINGS.map((setting) => setting.number)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(foldsFor('reseed-gold', { unseen: ['cv0'], seen: 'cv1' })).toEqual(['cv1']);
    expect(foldsFor('shuffle-gold', { unseen: ['cv0'], seen: 'cv1' })).toEqual(['cv0', 'cv1']);
  });

  it('expands shuffle-*, reseed-* and shuffle-reseed-* over the listed strategies that have them', () => {
    expect(parsePrefixList('none,tag,persona,name,reseed-*,shuffle-*,shuffle-reseed-*')).toEqual([
      'none',
      'tag',
      'persona',
      'name',
      'reseed-persona',
      'shuffle-tag',
      'shuffle-persona',
      'shuffle-name',
      'shuffle-reseed-persona',
    ]);
    expect(() => parsePrefixList('persona,other-*')).toThrow(/Unknown prefix "other-\*"/);
  });
});
