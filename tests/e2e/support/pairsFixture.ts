/**
 * Pasted text for the page walk: valid pairs of one fictional person (three carry script
 * payloads), and one row of each malformed kind, with the message the page must show for it.
 */

export const PERSON = 'Robin Test';

const valid = [
  { prompt: 'What should I read on a rainy afternoon?', chosen: 'A short mystery novel and a pot of tea.', rejected: 'A long manual about tax law.', split: 'train', type: 'personal' },
  { prompt: 'How should I spend a free Saturday?', chosen: 'Hiking in the hills with a packed lunch.', rejected: 'Scrolling through social media all day.', split: 'train', type: 'divergent' },
  {
    prompt: 'Rate this <img src=x onerror="window.__pwned=\'prompt-img\'"> photo',
    chosen: "**Bold** answer <script>window.__pwned='chosen-script'</script> [click me](javascript:window.__pwned='chosen-link')",
    rejected:
      '<img src="https://tracker.invalid/p.png" onerror="window.__pwned=\'rejected-img\'"> ![pic](https://tracker.invalid/q.png) <a href="javascript:window.__pwned=\'rejected-a\'">a link</a> <svg onload="window.__pwned=\'svg\'"></svg>',
    split: 'train',
    type: 'personal',
  },
  { prompt: 'Which pet suits a small flat?', chosen: 'A cat: quiet and independent.', rejected: 'A large dog that needs a garden.', split: 'test', type: 'personal' },
  { prompt: 'Should I take the train or fly to Paris?', chosen: 'The train: city centre to city centre.', rejected: 'Fly: it is always faster.', split: 'test', type: 'divergent' },
].map((pair) => ({ persona: PERSON, ...pair }));

/** Each malformed row with the text its issue must contain (line numbers follow the valid rows). */
export const MALFORMED: { row: string; message: string }[] = [
  { row: '{"prompt": "Broken", "chosen": ', message: 'invalid JSON' },
  { row: JSON.stringify({ persona: PERSON, prompt: 'No chosen?', rejected: 'b' }), message: 'field "chosen": expected a non-empty string, but the field is missing' },
  { row: JSON.stringify({ persona: PERSON, prompt: 'Numbers?', chosen: 42, rejected: 'b' }), message: 'field "chosen": expected a non-empty string, got number' },
  { row: JSON.stringify({ persona: PERSON, prompt: '   ', chosen: 'a', rejected: 'b' }), message: 'field "prompt": expected a non-empty string, got only whitespace' },
  { row: JSON.stringify({ persona: PERSON, prompt: 'Which split?', chosen: 'a', rejected: 'b', split: 'validation' }), message: 'field "split": expected one of "train", "test", got "validation"' },
];

export const VALID_COUNT = valid.length;
export const TRAIN_COUNT = valid.filter((pair) => pair.split === 'train').length;
export const TEST_COUNT = valid.filter((pair) => pair.split === 'test').length;

/** JSON Lines: the valid rows, the malformed rows, then a duplicate of the first row. */
export function pastedText(): string {
  const lines = [...valid.map((pair) => JSON.stringify(pair)), ...MALFORMED.map(({ row }) => row), JSON.stringify(valid[0])];
  return `${lines.join('\n')}\n`;
}

/** The 1-based line of malformed row `index` in `pastedText()`. */
export function malformedLine(index: number): number {
  return valid.length + index + 1;
}

/** Markdown a model might write, full of payloads; stored as a generation the page shows. */
export const HOSTILE_MARKDOWN = [
  '# Title',
  '<script>window.__pwned = "generated-script"</script>',
  '<img src="x" onerror="window.__pwned=\'generated-img\'">',
  '![tracking pixel](https://tracker.invalid/pixel.png)',
  '[a javascript link](javascript:window.__pwned=\'generated-link\')',
  '<a href="javascript:window.__pwned=\'generated-a\'">raw link</a>',
  '<iframe src="https://tracker.invalid/frame"></iframe>',
  '<div style="background:url(https://tracker.invalid/bg.png)" onmouseover="window.__pwned=\'hover\'">hover me</div>',
].join('\n\n');
