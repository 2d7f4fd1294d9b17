/**
 * Keyboard focus through a long action (load a model, infer a persona, generate). The button that
 * starts the work is disabled while it runs, which drops focus to the page body: a keyboard user
 * then has to Tab from the top to reach Cancel. Instead focus moves to the control that stops the
 * work while it runs, and back to the starting button when it ends, if it would otherwise be lost.
 */
import { tick } from 'svelte';

/** Whether focus is nowhere useful: the body, or an element no longer in the page. */
function focusLost(): boolean {
  const active = document.activeElement;
  return active === null || active === document.body || !active.isConnected;
}

/**
 * Runs `work`, started from `trigger`. `stopper` returns the control that stops the work once the
 * page shows it. Focus moves there only when it was on the trigger (or already lost), and returns
 * to the trigger afterwards only when it is still on the stopper or lost, so a user who moved on
 * meanwhile keeps their place.
 */
export async function withFocusHandoff(trigger: HTMLElement | undefined, stopper: () => HTMLElement | undefined, work: () => Promise<unknown>): Promise<void> {
  const hadFocus = trigger !== undefined && document.activeElement === trigger;
  const running = work();
  await tick();
  const stop = stopper();
  if (stop && (hadFocus || focusLost())) stop.focus();
  try {
    await running;
  } finally {
    await tick();
    if (trigger && (focusLost() || (stop !== undefined && document.activeElement === stop))) trigger.focus();
  }
}
