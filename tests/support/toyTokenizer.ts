/**
 * A greedy longest-match tokenizer over a tiny vocabulary, for boundary tests: it merges
 * across a join the way BPE can ("a" + "b" → "ab"), which real tokenizers do only for some inputs.
 */
export function toyTokenizer(vocabulary: readonly string[]): { encode: (text: string) => Promise<number[]>; ids: Map<string, number> } {
  const ids = new Map(vocabulary.map((piece, i) => [piece, i + 10]));
  const byLength = [...vocabulary].sort((a, b) => b.length - a.length);
  const encodeSync = (text: string): number[] => {
    const out: number[] = [];
    let rest = text;
    while (rest.length > 0) {
      const piece = byLength.find((p) => rest.startsWith(p));
      if (!piece) throw new Error(`toy vocabulary cannot encode ${JSON.stringify(rest[0])}`);
      out.push(ids.get(piece) as number);
      rest = rest.slice(piece.length);
    }
    return out;
  };
  return { encode: async (text) => encodeSync(text), ids };
}
