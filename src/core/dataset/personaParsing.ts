/**
 * Reading GPT-4's G.1 replies ("- {sub-category}, {name}, {1-sentence brief description}", one per
 * line) into axis memberships (spec §2.1).
 *
 * The authors split the reply on "\n-", turned every ":" into "," and, by a bug, appended
 * `item[20:]` to each item, which glued a second copy of most of the line onto the description. The
 * fix here: the description is the rest of the line, once. Other decisions, each because a reply
 * that breaks them cannot name a person reliably:
 * - only bullet lines count ("-", "*", "•" or "1."), so a "Sure! Here are…" header and a closing
 *   remark are skipped (the authors' split kept a header as a garbage first "persona");
 * - the sub-category may end with ":" as well as "," ("Veganism: Ellen DeGeneres, …"), as the
 *   authors' ":"→"," replacement allowed, but colons inside the description stay;
 * - Markdown emphasis around fields ("**Veganism**") is removed, and double quotes from a category
 *   (a CoT lists categories in quotes when it must, `renderCategoryList`);
 * - a line without both a category and a name is skipped; a missing description is "".
 */
import { mergeMemberships, type RosterPersona } from './roster.ts';

export interface ParsedPersonaLine {
  axis: string;
  category: string;
  name: string;
  description: string;
}

const BULLET = /^\s*(?:[-*•]|\d{1,2}[.)])\s+(.*)$/u;

function clean(field: string): string {
  return field.replaceAll('**', '').replaceAll('__', '').trim();
}

/** The personas of one G.1 reply for `axis`, in reply order. */
export function parsePersonaSelection(reply: string, axis: string): ParsedPersonaLine[] {
  const lines: ParsedPersonaLine[] = [];
  for (const line of reply.split('\n')) {
    const bullet = BULLET.exec(line);
    if (!bullet?.[1]) continue;
    const body = bullet[1];
    const categoryEnd = body.search(/[,:]/u);
    if (categoryEnd < 0) continue;
    const category = clean(body.slice(0, categoryEnd).replaceAll('"', ''));
    const rest = body.slice(categoryEnd + 1);
    const nameEnd = rest.indexOf(',');
    const name = clean(nameEnd < 0 ? rest : rest.slice(0, nameEnd));
    const description = nameEnd < 0 ? '' : clean(rest.slice(nameEnd + 1));
    if (category === '' || name === '') continue;
    lines.push({ axis, category, name, description });
  }
  return lines;
}

/** People from the replies of every axis, merged by name (several memberships for multi-axis people). */
export function personasFromSelections(parsed: readonly ParsedPersonaLine[]): Omit<RosterPersona, 'cv'>[] {
  return mergeMemberships(parsed);
}
