import { describe, expect, it } from 'vitest';
import { findPersona, importPersonas } from '../../src/core/personas.ts';

describe('importPersonas', () => {
  it('reads our persona objects from an array or a { personas } document', () => {
    const persona = { name: 'Ada', prefixes: { persona: 'P' } };
    expect(importPersonas(JSON.stringify([persona]))).toEqual([persona]);
    expect(importPersonas(JSON.stringify({ name: 'set', pairs: [], personas: [persona] }))).toEqual([persona]);
  });

  it("reads the authors' personas.json rows (JSON Lines), prefix columns kept by field name", () => {
    const rows = [
      { name: 'Halle Berry', axis: ['diet: Ketogenic'], description: ['Actress.'], cv: 4, persona_xy_4s: 'P', persona_gold_gpt4: 'G', tag: '<special_person_tag_1>' },
      { name: 'Joe Biden', axis: ['politics: Centrist'], persona_xy_4s: 'Q' },
    ];
    const personas = importPersonas(rows.map((row) => JSON.stringify(row)).join('\n'));
    expect(personas[0]).toEqual({
      name: 'Halle Berry',
      axis: 'diet',
      category: 'Ketogenic',
      prefixes: { persona_xy_4s: 'P', persona_gold_gpt4: 'G', tag: '<special_person_tag_1>' },
    });
    expect(findPersona(personas, 'joe biden')?.prefixes).toEqual({ persona_xy_4s: 'Q' });
  });

  it('names the line of a malformed row and the field of an invalid one', () => {
    expect(() => importPersonas('{"name":"A","prefixes":{}}\n{oops', 'p.jsonl')).toThrow(/p.jsonl, line 2: not valid JSON/);
    expect(() => importPersonas('[{"name":"A","prefixes":{"persona":3}}]', 'p.json')).toThrow(/p.json, item 1: field "prefixes.persona": expected a string, got number/);
    expect(() => importPersonas('  ')).toThrow(/empty/);
  });
});
