/**
 * What every `eval` run shares around its work: Ctrl+C handling (exit 130, finished work kept),
 * the session id rows carry, and the prefix texts a run starts from.
 */
import { existsSync } from 'node:fs';
import { isAbortError } from '../../../src/core/errors.ts';
import type { PrefixFile } from '../../../src/core/eval/prefixFile.ts';
import { assertSamePrefixes, readPrefixFile } from '../../lib/eval/prefixBuilder.ts';

/** The shell's code for a run stopped by SIGINT. */
export const EXIT_INTERRUPTED = 130;

/** Which process wrote a row: its start time and pid (rows of a resumed run carry a new one). */
export function sessionId(): string {
  return `${new Date().toISOString()}#${process.pid}`;
}

/**
 * Ctrl+C aborts the signal: work in flight stops, rows written so far stay (scoring loops then
 * rebuild the report). Stopped anywhere else (building prefixes), the run says how to resume.
 */
export async function withInterrupt(run: (signal: AbortSignal) => Promise<number>): Promise<number> {
  const controller = new AbortController();
  const onInterrupt = () => controller.abort();
  process.once('SIGINT', onInterrupt);
  try {
    return await run(controller.signal);
  } catch (error) {
    if (!isAbortError(error)) throw error;
    process.stderr.write('Interrupted: re-run the same command to resume; finished work is kept.\n');
    return EXIT_INTERRUPTED;
  } finally {
    process.removeListener('SIGINT', onInterrupt);
  }
}

/**
 * The prefix texts a run starts from: the folder's own file (what earlier rows were scored with),
 * then each given file in order (--prefix-file, then the baseline run's) filling texts and
 * personas the earlier ones lack. A given file that contradicts the folder's own stops.
 */
export async function runPrefixFile(folderPath: string, given: readonly (string | undefined)[]): Promise<PrefixFile | undefined> {
  const folder = existsSync(folderPath) ? await readPrefixFile(folderPath) : undefined;
  let merged = folder;
  for (const path of given) {
    if (path === undefined) continue;
    const file = await readPrefixFile(path);
    if (folder) assertSamePrefixes(folder, file, folderPath);
    merged = merged ? mergePrefixFiles(merged, file) : file;
  }
  return merged;
}

/** `primary` with `secondary`'s texts and personas added where `primary` has none. */
function mergePrefixFiles(primary: PrefixFile, secondary: PrefixFile): PrefixFile {
  const personas = primary.personas.map((persona) => {
    const extra = secondary.personas.find((candidate) => candidate.name.toLowerCase() === persona.name.toLowerCase());
    return extra ? { ...persona, prefixes: { ...extra.prefixes, ...persona.prefixes } } : persona;
  });
  const added = secondary.personas.filter((persona) => !primary.personas.some((candidate) => candidate.name.toLowerCase() === persona.name.toLowerCase()));
  const generated = { ...secondary.provenance.generated };
  for (const [kind, byPersona] of Object.entries(primary.provenance.generated) as [keyof typeof generated, (typeof generated)[keyof typeof generated]][]) {
    generated[kind] = { ...generated[kind], ...byPersona };
  }
  return { ...primary, personas: [...personas, ...added], provenance: { ...secondary.provenance, ...primary.provenance, generated } };
}
