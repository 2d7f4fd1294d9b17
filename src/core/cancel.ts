/**
 * The part of AbortSignal the core relies on. The core is type-checked without DOM or Node
 * types, so it names the shape it uses; a real AbortSignal satisfies it in every runtime.
 */
import { AppError } from './errors.ts';

export interface CancelSignal {
  readonly aborted: boolean;
  addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: 'abort', listener: () => void): void;
}

export function throwIfCancelled(signal: CancelSignal | undefined): void {
  if (signal?.aborted) throw new AppError('aborted', 'Cancelled.');
}

/** Whether an error is the cancellation `throwIfCancelled` raises. */
export function isCancelled(error: unknown): boolean {
  return error instanceof AppError && error.code === 'aborted';
}
