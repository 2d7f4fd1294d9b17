/**
 * The §2.6 artifact cleanup against golden values computed by the authors' own functions
 * (`extract_cot_and_response`, `heuristics_modifier`, `trim_y` from PootieT/famous-persona
 * sampling/util.py at 9f36205, run under Python 3.11 on these exact inputs). One case per rule and
 * per reproduced quirk; the emoji cases fail for a port that counts UTF-16 units instead of code points.
 */
import { describe, expect, it } from 'vitest';
import { ARTIFACT_PHRASES, extractCotAndResponse, heuristicsModifier, removeContainingSentence, trimHeader } from '../../src/core/dataset/cleanup.ts';
import { pyFind, pyLen, pyRfind, pySlice, pyStrip } from '../../src/core/dataset/pyString.ts';

/** 113 characters: long enough that a trimmed answer passes the > 100 test. */
const F = 'Start with a warm bowl of oats, then add berries and a spoon of nut butter for lasting energy through the morning';
const F2 = 'Plan three simple meals ahead on Sunday so that the busy weekdays never push you toward takeout';

interface Golden {
  name: string;
  input: string;
  cot: string;
  response: string;
  heuristics: string;
  trim: string;
}

const GOLDEN: Golden[] = [
  {
    name: 'full_format',
    input: `Axis: diet\nCategories: Vegan, Keto, Paleo\nChosen category: Keto\nResponse: ${F}.`,
    cot: `Axis: diet\nCategories: Vegan, Keto, Paleo`,
    response: `${F}.`,
    heuristics: `${F}.`,
    trim: `Response: ${F}.`,
  },
  {
    name: 'subcategory_marker',
    input: `Axis: diet\nCategories: Vegan, Keto\nChosen subcategory: Keto\nResponse: ${F}.`,
    cot: `Axis: diet\nCategories: Vegan, Keto`,
    response: `${F}.`,
    heuristics: `${F}.`,
    trim: `Response: ${F}.`,
  },
  {
    name: 'no_space_after_response',
    input: `Axis: diet\nChosen category: Keto\nResponse:${F}.`,
    cot: `Axis: diet`,
    response: `tart with a warm bowl of oats, then add berries and a spoon of nut butter for lasting energy through the morning.`,
    heuristics: `tart with a warm bowl of oats, then add berries and a spoon of nut butter for lasting energy through the morning.`,
    trim: `Response:${F}.`,
  },
  {
    name: 'last_response_marker',
    input: `Axis: diet\nChosen category: Keto\nResponse: draft one\nResponse: ${F}.`,
    cot: `Axis: diet`,
    response: `${F}.`,
    heuristics: `draft one\nResponse: ${F}.`,
    trim: `Response: draft one\nResponse: ${F}.`,
  },
  {
    name: 'no_response_marker',
    input: `Axis: diet\nCategories: Vegan, Keto\nChosen category: Keto\n${F}.`,
    cot: `Axis: diet\nCategories: Vegan, Keto`,
    response: `${F}.`,
    heuristics: `${F}.`,
    trim: `${F}.`,
  },
  {
    name: 'no_newline_after_category',
    input: `Axis: diet\nCategories: Vegan, Keto\nChosen category: Keto`,
    cot: `Axis: diet\nCategories: Vegan, Keto`,
    response: `o`,
    heuristics: `o`,
    trim: `o`,
  },
  {
    name: 'response_without_cot',
    input: `Here we go.\nResponse: ${F}.`,
    cot: ``,
    response: `${F}.`,
    heuristics: `Here we go.\nResponse: ${F}.`,
    trim: `Here we go.\nResponse: ${F}.`,
  },
  {
    name: 'plain_answer',
    input: `  ${F}. ${F2}.  `,
    cot: ``,
    response: `${F}. ${F2}.`,
    heuristics: `${F}. ${F2}.`,
    trim: `${F}. ${F2}.`,
  },
  {
    name: 'runaway_restart',
    input: `Axis: diet\nChosen category: Keto\nResponse: ${F}. ${F2}. ${F}. ${F2}. ${F}. ${F2}. ${F}.\nAxis: politics\nChosen category: Liberal\nResponse: something else entirely.`,
    cot: `Axis: diet`,
    response: `${F}. ${F2}. ${F}. ${F2}. ${F}. ${F2}. ${F}.`,
    heuristics: `${F}. ${F2}. ${F}. ${F2}. ${F}. ${F2}. ${F}.\nAxis: politics\nChosen category: Liberal\nResponse: something else entirely.`,
    trim: `Response: ${F}. ${F2}. ${F}. ${F2}. ${F}. ${F2}. ${F}.\nAxis: politics\nChosen category: Liberal\nResponse: something else entirely.`,
  },
  {
    name: 'clause_as_someone',
    input: `As someone committed to mindful eating, you might enjoy this. ${F}.`,
    cot: ``,
    response: `You might enjoy this. ${F}.`,
    heuristics: `You might enjoy this. ${F}.`,
    trim: `As someone committed to mindful eating, you might enjoy this. ${F}.`,
  },
  {
    name: 'clause_ask',
    input: `Ask yourself what you enjoy most, then ${F}.`,
    cot: ``,
    response: `Then ${F}.`,
    heuristics: `Then ${F}.`,
    trim: `Ask yourself what you enjoy most, then ${F}.`,
  },
  {
    name: 'clause_without_comma',
    input: `Assuming you want energy ${F}.`,
    cot: ``,
    response: `Assuming you want energy ${F}.`,
    heuristics: `Then add berries and a spoon of nut butter for lasting energy through the morning.`,
    trim: `Assuming you want energy ${F}.`,
  },
  {
    name: 'label_response_for',
    input: `Response for someone who loves keto: ${F}.`,
    cot: ``,
    response: `${F}.`,
    heuristics: `${F}.`,
    trim: `Response for someone who loves keto: ${F}.`,
  },
  {
    name: 'label_chosen',
    input: `Chosen Geographical Location (Asia). ${F}.`,
    cot: ``,
    response: `${F}.`,
    heuristics: `${F}.`,
    trim: `Chosen Geographical Location (Asia). ${F}.`,
  },
  {
    name: 'greeting_hi',
    input: `Hi [User Name]!\n\nStart here. ${F}.`,
    cot: ``,
    response: `Start here. ${F}.`,
    heuristics: `Start here. ${F}.`,
    trim: `Hi [User Name]!\n\nStart here. ${F}.`,
  },
  {
    name: 'greeting_history',
    input: `History shows that breakfast matters. ${F}.`,
    cot: ``,
    response: `${F}.`,
    heuristics: `${F}.`,
    trim: `History shows that breakfast matters. ${F}.`,
  },
  {
    name: 'parenthesis',
    input: `(for a potential attendee based in Vietnam) ${F}.`,
    cot: ``,
    response: `${F}.`,
    heuristics: `${F}.`,
    trim: `(for a potential attendee based in Vietnam) ${F}.`,
  },
  {
    name: 'phrase_preference',
    input: `Given nothing. ${F}. Based on your preference for plants this works. ${F2}.`,
    cot: ``,
    response: `Then add berries and a spoon of nut butter for lasting energy through the morning. ${F2}.`,
    heuristics: `Then add berries and a spoon of nut butter for lasting energy through the morning. ${F2}.`,
    trim: `Given nothing. ${F}. Based on your preference for plants this works. ${F2}.`,
  },
  {
    name: 'phrase_no_sentence_end',
    input: `${F}. ${F2}. Your preference matters`,
    cot: ``,
    response: `${F}. ${F2}. ${F}. ${F2}. Your preference matters`,
    heuristics: `${F}. ${F2}. ${F}. ${F2}. Your preference matters`,
    trim: `${F}. ${F2}. Your preference matters`,
  },
  {
    name: 'phrase_fused_like_you',
    input: `${F}. People like you love it. ${F2}.`,
    cot: ``,
    response: `${F}. People like you love it. ${F2}.`,
    heuristics: `${F}. People like you love it. ${F2}.`,
    trim: `${F}. People like you love it. ${F2}.`,
  },
  {
    name: 'phrase_fused_like_youas_someone',
    input: `${F}. People like youas someone said. ${F2}.`,
    cot: ``,
    response: `${F}. ${F2}.`,
    heuristics: `${F}. ${F2}.`,
    trim: `${F}. People like youas someone said. ${F2}.`,
  },
  {
    name: 'short_trimmed_kept_untrimmed',
    input: `As a vegan, eat beans.`,
    cot: ``,
    response: `As a vegan, eat beans.`,
    heuristics: `Eat beans.`,
    trim: `As a vegan, eat beans.`,
  },
  {
    name: 'leading_colon_header',
    input: `: Category: Keto\n${F}. ${F2}.`,
    cot: ``,
    response: `${F}. ${F2}.`,
    heuristics: `${F}. ${F2}.`,
    trim: `${F}. ${F2}.`,
  },
  {
    name: 'header_without_newline',
    input: `Category: Keto lovers will like this ${F}`,
    cot: ``,
    response: `Category: Keto lovers will like this ${F}`,
    heuristics: `g`,
    trim: `g`,
  },
  {
    name: 'two_passes',
    input: `Hello friend! As a keto fan, you will love this. ${F}. ${F2}.`,
    cot: ``,
    response: `${F}. ${F2}.`,
    heuristics: `${F}. ${F2}.`,
    trim: `Hello friend! As a keto fan, you will love this. ${F}. ${F2}.`,
  },
  {
    name: 'emoji_before_threshold',
    input: `${"🌱".repeat(40)} axis: x\n${F}. ${F2}.`,
    cot: ``,
    response: `${F}. ${F2}.`,
    heuristics: `${F}. ${F2}.`,
    trim: `${F}. ${F2}.`,
  },
  {
    name: 'empty',
    input: ``,
    cot: ``,
    response: ``,
    heuristics: `empty response :(`,
    trim: ``,
  },
  {
    name: 'dear_punct_letter',
    input: `Dear reader,you are welcome.${F}. ${F2}.`,
    cot: ``,
    response: `Ou are welcome.${F}. ${F2}.`,
    heuristics: `Ou are welcome.${F}. ${F2}.`,
    trim: `Dear reader,you are welcome.${F}. ${F2}.`,
  },
  {
    name: 'sorry_sentence',
    input: `${F}. Sorry, I cannot be more specific! ${F2}.`,
    cot: ``,
    response: `${F}. ${F2}.`,
    heuristics: `${F}. ${F2}.`,
    trim: `${F}. Sorry, I cannot be more specific! ${F2}.`,
  },
  {
    name: 'chosen_category_in_body',
    input: `${F}. Thanks for the chosen category of keto. ${F2}.`,
    cot: ``,
    response: `${F}. ${F2}.`,
    heuristics: `${F}. ${F2}.`,
    trim: `${F}. Thanks for the chosen category of keto. ${F2}.`,
  },
  {
    name: 'emoji_code_points',
    input: `${"🌱".repeat(60)} axis: x\n${F}. ${F2}.`,
    cot: ``,
    response: `${F}. ${F2}.`,
    heuristics: `${F}. ${F2}.`,
    trim: `${F}. ${F2}.`,
  },
  {
    name: 'emoji_runaway_threshold',
    input: `Chosen category: Keto\nResponse: ${"🌱".repeat(330)} ${F}\nAxis: again ${F2}`,
    cot: ``,
    response: `${"🌱".repeat(330)} ${F}\nAxis: again ${F2}`,
    heuristics: `${"🌱".repeat(330)} ${F}\nAxis: again ${F2}`,
    trim: `Response: ${"🌱".repeat(330)} ${F}\nAxis: again ${F2}`,
  },
];

describe('extractCotAndResponse / heuristicsModifier / trimHeader (authors\u2019 golden values)', () => {
  it.each(GOLDEN)('$name', ({ input, cot, response, heuristics, trim }) => {
    expect(extractCotAndResponse(input)).toEqual({ cot, response });
    expect(heuristicsModifier(input)).toBe(heuristics);
    expect(trimHeader(input)).toBe(trim);
  });

  it('covers every rule the spec lists', () => {
    const names = GOLDEN.map((golden) => golden.name);
    for (const rule of ['runaway_restart', 'subcategory_marker', 'no_newline_after_category', 'clause_ask', 'clause_without_comma', 'label_chosen', 'greeting_history', 'parenthesis', 'phrase_no_sentence_end', 'phrase_fused_like_you', 'short_trimmed_kept_untrimmed', 'header_without_newline', 'two_passes', 'emoji_code_points']) {
      expect(names).toContain(rule);
    }
  });
});

describe('quirks, spelled out', () => {
  it('Q4: the phrase list fuses "like you" and "as someone"', () => {
    expect(ARTIFACT_PHRASES).toContain('like youas someone');
    expect(ARTIFACT_PHRASES).not.toContain('like you');
    expect(ARTIFACT_PHRASES).not.toContain('as someone');
  });

  it('Q5: with no sentence end after the phrase, the text after the kept prefix is the whole text', () => {
    expect(removeContainingSentence('Intro. My preference is tea', 'preference')).toBe('Intro. Intro. My preference is tea');
  });

  it('Q6: the character after a sentence end is skipped even when it is a letter', () => {
    expect(removeContainingSentence('One. Your preference.Two three.', 'preference')).toBe('One. wo three.');
  });

  it('Q3: the greeting branch cuts at the first comma, its comma removal having been a no-op', () => {
    expect(heuristicsModifier(`Dear reader, ${F}.`)).toBe(`${F}.`);
  });
});

describe('Python string semantics', () => {
  it('counts, finds and slices by code point', () => {
    const text = '🌱a🌱b';
    expect(pyLen(text)).toBe(4);
    expect(pyFind(text, 'b')).toBe(3);
    expect(pyRfind(text, '🌱')).toBe(2);
    expect(pySlice(text, 1, 3)).toBe('a🌱');
    expect(pySlice(text, -1)).toBe('b');
    expect(pySlice(text, -2 + 2)).toBe(text);
  });

  it('find honours start and end like Python', () => {
    expect(pyFind('abcabc', 'c', 3)).toBe(5);
    expect(pyFind('abcabc', 'c', 0, 2)).toBe(-1);
    expect(pyRfind('a.b.c', '.', 0, 3)).toBe(1);
    expect(pyFind('abc', 'c', -1)).toBe(2);
  });

  it('strips what str.strip() strips (U+001C–U+001F, U+0085) and keeps U+FEFF', () => {
    expect(pyStrip('\u001c\u0085 text \u2003\n')).toBe('text');
    expect(pyStrip('\ufefftext')).toBe('\ufefftext');
  });
});
