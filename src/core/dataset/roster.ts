/**
 * The dataset's people: the 11 axes, the fixed Table 7 roster of 50 personas (54 axis memberships:
 * Obama, Musk and Winfrey sit on several axes) with the authors' 5-fold persona cross-validation
 * (spec §1.7), and the helpers every later step uses to look people up by axis.
 *
 * The paper's personas were curated by hand from GPT-4's G.1 suggestions (the pruning rule is not
 * published, spec §7.6), so the default build uses this roster rather than regenerating people.
 * "Gordon Ramsey" is spelled as the authors spell it throughout, so names join with their files.
 *
 * Category labels: the authors' labels lived in their `personas.json` (`"axis: category"`), which is
 * not in their repository; Table 7 is the only record of them, so its labels are used verbatim. Their
 * G.1 parser cut a category at its first comma, so none of their labels held a comma; ours may (a
 * config's own list), which is why CoT category lists are rendered and read by `cot.ts`, never split
 * on commas blindly.
 */

/** The authors' `AXES`, with the stray newlines of two entries removed (spec §2.1). */
export const AXES = [
  'sports',
  'diet',
  'politics',
  'religion',
  'age',
  'profession',
  'geographical location',
  'gender',
  'education level',
  'AI professors',
  'family marriage status',
] as const;

/** One axis membership: the person represents `category` within `axis`. */
export interface AxisMembership {
  axis: string;
  category: string;
}

export interface RosterPersona {
  name: string;
  /** In axis order for multi-axis people (as the authors' `axis` list). */
  memberships: AxisMembership[];
  /** One-sentence descriptions, one per membership, when known (G.1 output); the roster has none. */
  descriptions: string[];
  /** Persona cross-validation fold: in fold f's test set when cv = f. */
  cv: number;
}

/**
 * Table 7, in the paper's order within each axis, every category label exactly as printed there
 * ("Children (0-12 years)", "Married without children"): these strings reach G.2's prompts and the
 * gold CoTs the baseline is conditioned on, so a paraphrase changes the data.
 */
const TABLE_7: readonly (readonly [axis: (typeof AXES)[number], members: readonly (readonly [name: string, category: string])[]])[] = [
  ['sports', [['LeBron James', 'Basketball Player'], ['Serena Williams', 'Tennis Player'], ['David Beckham', 'Soccer Player'], ['Tiger Woods', 'Golf Player'], ['Mike Trout', 'Baseball Player']]],
  ['diet', [['Ellen DeGeneres', 'Veganism'], ['Gwyneth Paltrow', 'Gluten-Free'], ['Megan Fox', 'Paleo'], ['Jennifer Aniston', 'Mediterranean'], ['Halle Berry', 'Ketogenic']]],
  ['politics', [['Bernie Sanders', 'Liberal'], ['Donald Trump', 'Conservative'], ['Rand Paul', 'Libertarian'], ['Alexandria Ocasio-Cortez', 'Progressive'], ['Joe Biden', 'Centrist']]],
  ['religion', [['Joel Osteen', 'Christianity'], ['Richard Dawkins', 'Atheism'], ['Mayim Bialik', 'Judaism'], ['Richard Gere', 'Buddhism'], ['Zayn Malik', 'Islam']]],
  ['age', [['Millie Bobby Brown', 'Children (0-12 years)'], ['Billie Eilish', 'Teens (13-19 years)'], ['Barack Obama', 'Adults (20-64 years)'], ['Sir Ian McKellen', 'Seniors (65+ years)']]],
  ['profession', [['Elon Musk', 'Entrepreneurs'], ['Meryl Streep', 'Actors'], ['Elton John', 'Musicians'], ['Tom Brady', 'Athletes'], ['J.K. Rowling', 'Writers']]],
  ['geographical location', [['Elon Musk', 'West Coast USA'], ['Robert De Niro', 'East Coast USA'], ['Oprah Winfrey', 'Midwestern USA'], ['Beyoncé', 'Southern USA'], ['Daniel Radcliffe', 'Outside USA']]],
  ['gender', [['Barack Obama', 'Male'], ['Oprah Winfrey', 'Female'], ['Sam Smith', 'Non-binary'], ['Laverne Cox', 'Transgender Female'], ['Chaz Bono', 'Transgender Male']]],
  ['education level', [['Neil deGrasse Tyson', 'Doctoral Degree'], ['Quentin Tarantino', 'High School Educated'], ['Gordon Ramsey', 'Vocational Education'], ['Sheryl Sandberg', 'Undergraduate Degree'], ['Bill Clinton', 'Graduate Degree']]],
  [
    'AI professors',
    [['Timnit Gebru', 'AI Ethics Professors'], ['Suchi Saria', 'AI in Medicine Professors'], ['Yoshua Bengio', 'AI in Neuroscience Professors'], ['Latanya Sweeney', 'AI in Data Privacy Professors'], ['Sebastian Thrun', 'Autonomous System AI Professors']],
  ],
  ['family marriage status', [['Prince Harry', 'Married without children'], ['Barack Obama', 'Married with children'], ['Taylor Swift', 'Single'], ['Jeff Bezos', 'Divorced'], ['Queen Elizabeth II', 'Widowed']]],
];

/** The authors' CV folds: the test personas of each fold (`experiments/train_dpo_pp_one_model_cv.qsub`). */
export const CV_FOLDS: readonly (readonly string[])[] = [
  ['Serena Williams', 'Prince Harry', 'Ellen DeGeneres', 'Elon Musk', 'Joe Biden', 'Mayim Bialik', 'Sir Ian McKellen', 'Sam Smith', 'Neil deGrasse Tyson', 'Timnit Gebru'],
  ['David Beckham', 'Gwyneth Paltrow', 'Alexandria Ocasio-Cortez', 'Zayn Malik', 'J.K. Rowling', 'Daniel Radcliffe', 'Laverne Cox', 'Bill Clinton', 'Yoshua Bengio', 'Jeff Bezos'],
  ['Tiger Woods', 'Bernie Sanders', 'Megan Fox', 'Richard Gere', 'Barack Obama', 'Meryl Streep', 'Robert De Niro', 'Chaz Bono', 'Sheryl Sandberg', 'Suchi Saria'],
  ['Mike Trout', 'Jennifer Aniston', 'Rand Paul', 'Richard Dawkins', 'Millie Bobby Brown', 'Tom Brady', 'Oprah Winfrey', 'Gordon Ramsey', 'Latanya Sweeney', 'Queen Elizabeth II'],
  ['LeBron James', 'Halle Berry', 'Donald Trump', 'Joel Osteen', 'Billie Eilish', 'Elton John', 'Beyoncé', 'Quentin Tarantino', 'Taylor Swift', 'Sebastian Thrun'],
];

export const DEFAULT_CV_FOLD_COUNT = 5;

/** Merges per-axis (name, category) rows into people, keeping first-seen order (the authors' `merge_persona_axis`). */
export function mergeMemberships(
  rows: readonly { name: string; axis: string; category: string; description?: string }[],
): Omit<RosterPersona, 'cv'>[] {
  const byName = new Map<string, Omit<RosterPersona, 'cv'>>();
  for (const { name, axis, category, description } of rows) {
    const person = byName.get(name) ?? { name, memberships: [], descriptions: [] };
    if (!person.memberships.some((membership) => membership.axis === axis)) {
      person.memberships.push({ axis, category });
      if (description !== undefined) person.descriptions.push(description);
    }
    byName.set(name, person);
  }
  return [...byName.values()];
}

/** The 50 Table 7 personas in first-appearance order, each with the authors' fold. */
export function tableSevenRoster(): RosterPersona[] {
  const rows = TABLE_7.flatMap(([axis, members]) => members.map(([name, category]) => ({ name, axis, category })));
  return mergeMemberships(rows).map((person) => {
    const cv = CV_FOLDS.findIndex((fold) => fold.includes(person.name));
    if (cv < 0) throw new Error(`Table 7 persona ${person.name} is in no CV fold.`);
    return { ...person, cv };
  });
}

/**
 * Folds for people outside the roster (G.1-generated or listed without one): axis-stratified round
 * robin. Walking the axes in order and their members in order, each person not yet placed takes the
 * next fold, so every axis spreads over the folds as the authors' hand-made folds do.
 */
export function assignFolds(people: readonly Omit<RosterPersona, 'cv'>[], axes: readonly string[], folds = DEFAULT_CV_FOLD_COUNT): Map<string, number> {
  const assigned = new Map<string, number>();
  let next = 0;
  const axisOrder = [...axes, ...people.flatMap((person) => person.memberships.map((membership) => membership.axis))];
  for (const axis of new Set(axisOrder)) {
    for (const person of people) {
      if (assigned.has(person.name) || !person.memberships.some((membership) => membership.axis === axis)) continue;
      assigned.set(person.name, next % folds);
      next++;
    }
  }
  return assigned;
}

/** The axes that have at least one member, in `axisOrder` first, then first appearance. */
export function axesOf(people: readonly Pick<RosterPersona, 'memberships'>[], axisOrder: readonly string[] = AXES): string[] {
  const present = new Set(people.flatMap((person) => person.memberships.map((membership) => membership.axis)));
  const ordered = axisOrder.filter((axis) => present.has(axis));
  for (const axis of present) if (!ordered.includes(axis)) ordered.push(axis);
  return ordered;
}

/** Members of `axis` with their category there, in roster order. */
export function membersOf(people: readonly Pick<RosterPersona, 'name' | 'memberships'>[], axis: string): { name: string; category: string }[] {
  return people.flatMap((person) => {
    const membership = person.memberships.find((m) => m.axis === axis);
    return membership ? [{ name: person.name, category: membership.category }] : [];
  });
}

/** The authors' `axis` column entries: "diet: Ketogenic". */
export function axisLabels(person: Pick<RosterPersona, 'memberships'>): string[] {
  return person.memberships.map(({ axis, category }) => `${axis}: ${category}`);
}

/** The per-persona file-name part: lower-cased, spaces removed ("Halle Berry" → "halleberry", spec §1.4). */
export function flatName(name: string): string {
  return name.toLowerCase().replaceAll(' ', '');
}

/** The leave-one-axis-out folder suffix: spaces → underscores, case kept ("AI professors" → "AI_professors"). */
export function axisFolderName(axis: string): string {
  return axis.replaceAll(' ', '_');
}
