/**
 * Driving code under vitest's fake timers: `drive` advances the fake clock until a promise
 * settles, giving the event loop one real turn between steps (for I/O such as file reads and
 * fake-indexeddb's requests, which do not wait on the clock). Nothing waits on real time, so a busy
 * machine cannot change the outcome.
 */
import { vi } from 'vitest';

/** Captured before any test fakes it. */
const realSetImmediate = globalThis.setImmediate;

/** Runs the fake clock, 1 ms at a time, until `work` settles; fails rather than spin forever. */
export async function drive<T>(work: Promise<T>, maxSteps = 200_000): Promise<T> {
  let settled = false;
  const done = work.then(
    () => (settled = true),
    () => (settled = true),
  );
  for (let step = 0; !settled; step++) {
    if (step >= maxSteps) throw new Error(`Still pending after ${maxSteps} ms of fake time.`);
    await vi.advanceTimersByTimeAsync(1);
    await new Promise<void>((resolve) => realSetImmediate(resolve));
  }
  await done;
  return work;
}
