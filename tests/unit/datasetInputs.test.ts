/**
 * The pipeline's inputs: the Table 7 roster and folds (spec §1.7), G.1 persona parsing (§2.1, with
 * the `item[20:]` bug fixed), G.2 question parsing and dedup (§2.4), the CoT plan (§2.5) and the
 * people a config resolves to.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { chooseCategory, goldCot, isUsableCot, parseCategories, phaseOneMessages, phaseTwoCallsPerCot, phaseTwoMessages, renderCategoryList } from '../../src/core/dataset/cot.ts';
import { parseBuildConfig, type BuildConfig } from '../../src/core/dataset/config.ts';
import { configuredPersonas, generatedPersonas } from '../../src/core/dataset/people.ts';
import { parsePersonaSelection } from '../../src/core/dataset/personaParsing.ts';
import { dedupQuestions, divergentQuestionId, extractQuestion, parseQuestions, personalQuestionId } from '../../src/core/dataset/questions.ts';
import { AXES, CV_FOLDS, assignFolds, axesOf, axisFolderName, axisLabels, flatName, membersOf, tableSevenRoster } from '../../src/core/dataset/roster.ts';
import { rngFor } from '../../src/core/dataset/seeds.ts';
import { COT_RESPONSE_SYSTEM, cotResponseSystem } from '../../src/core/prompts.ts';
import { TABLE_7_FIXTURE_PATH, readPaperText, tableSevenLines } from '../../scripts/fixtures/paperPrompts.ts';

const providers = {
  generator: { type: 'local', model: 'g' },
  judge: { type: 'local', model: 'j' },
  baseline: { type: 'local', model: 'b' },
  reward: { type: 'local', model: 'r' },
  embedder: { type: 'local', model: 'e' },
};
function config(input: Record<string, unknown>): BuildConfig {
  const parsed = parseBuildConfig({ providers, ...input });
  if (!parsed.ok) throw new Error(parsed.issues.join('\n'));
  return parsed.config;
}

const byName = (a: { name: string }, b: { name: string }) => a.name.localeCompare(b.name);

/** "Name (Category), Name (Category (with brackets))" → the pairs, splitting only at depth 0. */
function tableCells(cells: string): { name: string; category: string }[] {
  const out: { name: string; category: string }[] = [];
  let depth = 0;
  let start = 0;
  let open = -1;
  for (let i = 0; i < cells.length; i++) {
    if (cells[i] === '(' && depth++ === 0) open = i;
    if (cells[i] === ')' && --depth === 0) {
      out.push({ name: cells.slice(start, open).replace(/^,/u, '').trim(), category: cells.slice(open + 1, i) });
      start = i + 1;
    }
  }
  return out;
}

describe('Table 7 roster', () => {
  const roster = tableSevenRoster();

  it('uses Table 7\u2019s names and category labels exactly as the paper prints them', () => {
    const paper = readPaperText();
    const table = paper === undefined ? readFileSync(TABLE_7_FIXTURE_PATH, 'utf8') : tableSevenLines(paper);
    if (paper !== undefined) expect(readFileSync(TABLE_7_FIXTURE_PATH, 'utf8'), 'stale copy: run npx tsx scripts/fixtures/extractAppendixG.ts').toBe(table);
    const printed = table
      .trim()
      .split('\n')
      .map((line) => {
        const [axis = '', cells = ''] = line.split('\t');
        return [axis, tableCells(cells).sort(byName)];
      });
    // Members in roster order (first appearance, as the authors' personas.json): Obama leads family too.
    expect(printed).toEqual(AXES.map((axis) => [axis, membersOf(roster, axis).sort(byName)]));
    expect(membersOf(roster, 'family marriage status')[1]).toEqual({ name: 'Prince Harry', category: 'Married without children' });
    expect(membersOf(roster, 'age')[0]).toEqual({ name: 'Millie Bobby Brown', category: 'Children (0-12 years)' });
  });

  it('reads back every axis\u2019s categories from its gold CoT, each one chosen', () => {
    for (const axis of AXES) {
      const categories = membersOf(roster, axis).map((member) => member.category);
      const cot = goldCot(axis, categories);
      expect(parseCategories(cot), axis).toEqual(categories);
      const chosen = new Set(Array.from({ length: 400 }, (_, i) => chooseCategory(cot, rngFor(3, axis, i))));
      expect([...chosen].sort(), axis).toEqual([...categories].sort());
    }
    // As the paper's Table 10 prints it: a plain comma-separated list.
    expect(goldCot('age', membersOf(roster, 'age').map((member) => member.category))).toBe(
      'Axis: age\nCategories: Children (0-12 years), Teens (13-19 years), Adults (20-64 years), Seniors (65+ years)',
    );
  });

  it('has 50 people, 54 memberships on the 11 axes, and the three multi-axis people', () => {
    expect(roster).toHaveLength(50);
    expect(roster.flatMap((person) => person.memberships)).toHaveLength(54);
    expect(axesOf(roster)).toEqual([...AXES]);
    const multi = Object.fromEntries(roster.filter((p) => p.memberships.length > 1).map((p) => [p.name, p.memberships.map((m) => m.axis)]));
    expect(multi).toEqual({
      'Barack Obama': ['age', 'gender', 'family marriage status'],
      'Elon Musk': ['profession', 'geographical location'],
      'Oprah Winfrey': ['geographical location', 'gender'],
    });
    expect(membersOf(roster, 'age')).toHaveLength(4);
    expect(membersOf(roster, 'diet')).toEqual([
      { name: 'Ellen DeGeneres', category: 'Veganism' },
      { name: 'Gwyneth Paltrow', category: 'Gluten-Free' },
      { name: 'Megan Fox', category: 'Paleo' },
      { name: 'Jennifer Aniston', category: 'Mediterranean' },
      { name: 'Halle Berry', category: 'Ketogenic' },
    ]);
  });

  it('assigns the authors\u2019 folds: ten test personas each', () => {
    for (let fold = 0; fold < 5; fold++) expect(roster.filter((p) => p.cv === fold).map((p) => p.name).sort()).toEqual([...(CV_FOLDS[fold] ?? [])].sort());
    expect(roster.find((p) => p.name === 'Gordon Ramsey')?.cv).toBe(3);
  });

  it('writes the authors\u2019 names and labels', () => {
    expect(['Halle Berry', 'J.K. Rowling', 'Beyoncé', 'Alexandria Ocasio-Cortez', 'Sir Ian McKellen', 'Queen Elizabeth II'].map(flatName)).toEqual([
      'halleberry',
      'j.k.rowling',
      'beyoncé',
      'alexandriaocasio-cortez',
      'sirianmckellen',
      'queenelizabethii',
    ]);
    expect(axisLabels(roster.find((p) => p.name === 'Halle Berry') ?? { memberships: [] })).toEqual(['diet: Ketogenic']);
    expect(axisFolderName('AI professors')).toBe('AI_professors');
  });

  it('spreads new people over the folds axis by axis', () => {
    const people = [
      { name: 'A', memberships: [{ axis: 'diet', category: 'x' }], descriptions: [] },
      { name: 'B', memberships: [{ axis: 'diet', category: 'y' }], descriptions: [] },
      { name: 'C', memberships: [{ axis: 'sports', category: 'z' }, { axis: 'diet', category: 'w' }], descriptions: [] },
      { name: 'D', memberships: [{ axis: 'sports', category: 'v' }], descriptions: [] },
    ];
    // AXES order puts sports first: C, D, then diet's A, B.
    expect(Object.fromEntries(assignFolds(people, AXES, 3))).toEqual({ C: 0, D: 1, A: 2, B: 0 });
  });
});

describe('people from the config', () => {
  it('narrows the roster to axes (memberships too) and names', () => {
    const small = configuredPersonas(config({ personas: { source: 'roster', axes: ['diet', 'politics'] } })) ?? [];
    expect(small).toHaveLength(10);
    const people = configuredPersonas(config({ personas: { source: 'roster', axes: ['gender'], names: ['Barack Obama', 'Sam Smith'] } })) ?? [];
    expect(people.map((p) => [p.name, p.memberships.map((m) => m.axis)])).toEqual([
      ['Barack Obama', ['gender']],
      ['Sam Smith', ['gender']],
    ]);
    expect(() => configuredPersonas(config({ personas: { source: 'roster', names: ['Gordon Ramsay'] } }))).toThrow(/not in the Table 7 roster/);
  });

  it('takes a list with its folds, assigning the missing ones, and refuses duplicates', () => {
    const people = configuredPersonas(
      config({
        personas: {
          source: 'list',
          people: [
            { name: 'A', memberships: [{ axis: 'diet', category: 'Vegan' }], cv: 4 },
            { name: 'B', memberships: [{ axis: 'diet', category: 'Keto' }], description: 'Eats fat.' },
          ],
        },
      }),
    );
    expect(people).toEqual([
      { name: 'A', memberships: [{ axis: 'diet', category: 'Vegan' }], descriptions: [], cv: 4 },
      { name: 'B', memberships: [{ axis: 'diet', category: 'Keto' }], descriptions: ['Eats fat.'], cv: 1 },
    ]);
    const twice = config({ personas: { source: 'list', people: [{ name: 'A', memberships: [{ axis: 'x', category: 'y' }] }, { name: 'A', memberships: [{ axis: 'z', category: 'w' }] }] } });
    expect(() => configuredPersonas(twice)).toThrow(/listed twice/);
    const quoted = parseBuildConfig({ providers, personas: { source: 'list', people: [{ name: 'A', memberships: [{ axis: 'x', category: 'the "best" one' }] }] } });
    expect(quoted).toEqual({ ok: false, issues: ['personas.people.0.memberships.0.category: expected a category without double quotes or line breaks, got "the \\"best\\" one"'] });
  });

  it('needs G.1 for "generate", merging people across axes', () => {
    const generate = config({ personas: { source: 'generate', axes: ['diet', 'politics'], maxPerAxis: 2 } });
    expect(configuredPersonas(generate)).toBeUndefined();
    const { personas, unusable } = generatedPersonas(generate, [
      { axis: 'diet', reply: '- Keto, Halle Berry, Actress.\n- Vegan, Ellen DeGeneres, Host.\n- Paleo, Megan Fox, Actress.' },
      { axis: 'politics', reply: '- Liberal, Halle Berry, Actress again.' },
    ]);
    expect(personas.map((p) => [p.name, axisLabels(p), p.descriptions])).toEqual([
      ['Halle Berry', ['diet: Keto', 'politics: Liberal'], ['Actress.', 'Actress again.']],
      ['Ellen DeGeneres', ['diet: Vegan'], ['Host.']],
    ]);
    expect(unusable).toEqual([]);
    expect(generatedPersonas(generate, [{ axis: 'diet', reply: 'I cannot help.' }]).unusable).toEqual([{ axis: 'diet', raw: 'I cannot help.' }]);
  });
});

describe('parsePersonaSelection (G.1)', () => {
  const reply = `Sure! Here are five sub-categories:

- Veganism, Ellen DeGeneres, A comedian and TV host who has championed a plant-based diet for years.
- Ketogenic: Halle Berry, An actress who follows keto: she talks about it often.
* **Paleo**, **Megan Fox**, Actress.
- "Raw", Someone Raw, Quoted category.
2. Mediterranean, Jennifer Aniston, Actress known for balanced eating
- Just a category without a name
- Raw food,
Let me know if you want more!`;

  it('reads bullet lines, keeps the description whole (the item[20:] bug fixed) and colons in it', () => {
    expect(parsePersonaSelection(reply, 'diet')).toEqual([
      { axis: 'diet', category: 'Veganism', name: 'Ellen DeGeneres', description: 'A comedian and TV host who has championed a plant-based diet for years.' },
      { axis: 'diet', category: 'Ketogenic', name: 'Halle Berry', description: 'An actress who follows keto: she talks about it often.' },
      { axis: 'diet', category: 'Paleo', name: 'Megan Fox', description: 'Actress.' },
      { axis: 'diet', category: 'Raw', name: 'Someone Raw', description: 'Quoted category.' },
      { axis: 'diet', category: 'Mediterranean', name: 'Jennifer Aniston', description: 'Actress known for balanced eating' },
    ]);
  });
});

describe('questions (G.2)', () => {
  it('applies the authors\u2019 per-line rule', () => {
    expect(extractQuestion('1. What should I eat?')).toBe('What should I eat?');
    expect(extractQuestion('12. Plan my week')).toBe('Plan my week');
    expect(extractQuestion('3. "Quoted question?"')).toBe('Quoted question?');
    expect(extractQuestion('- “Curly question?”')).toBe('Curly question?');
    expect(extractQuestion('Is 3.5 enough?')).toBe('Is 3.5 enough?');
    expect(extractQuestion('No.3 rule')).toBe('3 rule');
  });

  it('drops the header and footer around a list, and echoed "Name:" lines', () => {
    const reply = `Sure! Here are 4 questions Elon Musk might ask:

1. How do reusable rockets cut costs?
2) What is a good book on first principles?
- Elon Musk:
3. Help me plan a tweet about Mars.

I hope these help!`;
    expect(parseQuestions(reply)).toEqual(['How do reusable rockets cut costs?', 'What is a good book on first principles?', 'Help me plan a tweet about Mars.']);
  });

  it('keeps every line of a reply without list items, except headers', () => {
    expect(parseQuestions('Questions:\nWhat is keto?\nHow do I start running?\n')).toEqual(['What is keto?', 'How do I start running?']);
  });

  it('dedups ignoring case and spacing, keeping the first', () => {
    expect(dedupQuestions(['What is keto?', 'what  is KETO?', 'Other?'])).toEqual(['What is keto?', 'Other?']);
  });

  it('makes sortable ids', () => {
    expect(personalQuestionId('Beyoncé', 7)).toBe('p-beyonce-007');
    expect(divergentQuestionId('AI professors', 42)).toBe('d-ai-professors-042');
  });
});

describe('CoT plan (G.3)', () => {
  it('reads the categories without the "Categories: " artifact', () => {
    expect(parseCategories('Axis: religion\nCategories: Christians, Catholics, Muslim, Buddhist, and Jewish')).toEqual(['Christians', 'Catholics', 'Muslim', 'Buddhist', 'Jewish']);
    expect(parseCategories('Axis: diet\nCategories:\n1. Vegan\n2. Keto.')).toEqual(['Vegan', 'Keto']);
    expect(parseCategories('Axis: diet')).toEqual([]);
  });

  it('never splits inside a bracket or a quoted label, and quotes labels a plain list would break', () => {
    // Table 10's Biden CoT, with a comma inside one of the brackets.
    expect(parseCategories('Axis: Politics (specifically, environmental policy) Categories: Democratic, Green Party, Independent (pro-environment, pro-business), and Independent (anti-environment).')).toEqual([
      'Democratic',
      'Green Party',
      'Independent (pro-environment, pro-business)',
      'Independent (anti-environment)',
    ]);
    const labels = ['Married, no children', 'Married with children', 'Single'];
    expect(renderCategoryList(labels)).toBe('"Married, no children", "Married with children", "Single"');
    expect(parseCategories(goldCot('family', labels))).toEqual(labels);
    for (const awkward of [['Ph.D.', 'MBA'], ['- dash', 'x'], ['and so on', 'y'], ['Open (bracket', 'close) bracket'], [' padded ', 'z']]) {
      expect(parseCategories(goldCot('axis', awkward)), JSON.stringify(awkward)).toEqual(awkward);
    }
    expect(renderCategoryList(['Veganism', 'Paleo'])).toBe('Veganism, Paleo');
    expect(() => renderCategoryList(['say "hi", twice'])).toThrow(/double quote/);
  });

  it('accepts a CoT only with a category to choose', () => {
    expect(isUsableCot('Axis: diet\nCategories: Vegan')).toBe(true);
    expect(isUsableCot('Axis: diet')).toBe(false);
    expect(isUsableCot('')).toBe(false);
  });

  it('builds gold CoTs and the four-turn phase-2 chat with an empty last user turn', () => {
    const cot = goldCot('diet', ['Veganism', 'Gluten-Free', 'Paleo', 'Mediterranean', 'Ketogenic']);
    expect(cot).toBe('Axis: diet\nCategories: Veganism, Gluten-Free, Paleo, Mediterranean, Ketogenic');
    expect(phaseTwoMessages('Best breakfast?', cot, 'Paleo', 'paper')).toEqual([
      { role: 'system', content: COT_RESPONSE_SYSTEM },
      { role: 'user', content: 'Best breakfast?' },
      { role: 'assistant', content: `${cot}\nChosen Category: Paleo` },
      { role: 'user', content: '' },
    ]);
  });

  it('uses the authors\u2019 twenty-axis G.3 in both phases when the config asks for it', () => {
    const authors = cotResponseSystem('authors');
    expect(phaseOneMessages('Best breakfast?', 'authors')[0]).toEqual({ role: 'system', content: authors });
    expect(phaseTwoMessages('Best breakfast?', 'Axis: diet\nCategories: A', 'A', 'authors')[0]).toEqual({ role: 'system', content: authors });
    expect(config({}).responses.cotAxisList).toBe('paper');
    expect(config({ responses: { cotAxisList: 'authors' } }).responses.cotAxisList).toBe('authors');
    expect(parseBuildConfig({ providers, responses: { cotAxisList: 'code' } })).toEqual({ ok: false, issues: ['responses.cotAxisList: expected one of "paper", "authors", got "code"'] });
  });

  it('chooses categories uniformly with the seed, and counts phase-2 calls per CoT', () => {
    const cot = 'Axis: diet\nCategories: A, B, C';
    const counts: Record<string, number> = {};
    for (let i = 0; i < 3000; i++) {
      const choice = chooseCategory(cot, rngFor(1, 'category', i));
      counts[choice] = (counts[choice] ?? 0) + 1;
    }
    expect(Object.keys(counts).sort()).toEqual(['A', 'B', 'C']);
    for (const count of Object.values(counts)) expect(count).toBeGreaterThan(900);
    expect(() => chooseCategory('Axis: diet', rngFor(1))).toThrow(/no category/);
    expect(phaseTwoCallsPerCot('sampled', 10)).toBe(9);
    expect(phaseTwoCallsPerCot('gold', 10)).toBe(10);
  });
});
