/**
 * Typed errors whose messages say what to do next. Every layer (core, engines, worker, CLI,
 * page) throws these; they cross the worker boundary as `{ code, message }` and are rebuilt
 * on the other side, so the page can react to the code and show the message.
 */
import { z } from 'zod';

export const ErrorCode = z.enum([
  'invalid-input',
  'model-files-missing',
  'context-exceeded',
  'no-webgpu',
  'no-shader-f16',
  'out-of-memory',
  'device-lost',
  'download-interrupted',
  'quota-exceeded',
  'model-mismatch',
  'worker-crashed',
  'not-loaded',
  'aborted',
  'unsupported',
  /** A remote service kept failing after retries. */
  'unavailable',
  /** The model worker was asked to contact a host outside its allow-list (src/core/networkPolicy.ts). */
  'network-refused',
  'internal',
]);
export type ErrorCode = z.infer<typeof ErrorCode>;

export const SerializedError = z.object({ code: ErrorCode, message: z.string() });
export type SerializedError = z.infer<typeof SerializedError>;

export class AppError extends Error {
  override readonly name = 'AppError';
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
  }

  toJSON(): SerializedError {
    return { code: this.code, message: this.message };
  }
}

/** `context-exceeded` unless `tokens` fit the context window: the one message every engine gives. */
export function assertFitsContext(what: string, tokens: number, model: string, contextWindow: number): void {
  if (tokens > contextWindow) {
    throw new AppError(
      'context-exceeded',
      `${what} needs ${tokens} tokens but ${model} has a context window of ${contextWindow}: shorten the prefix or the answers, or set truncation limits.`,
    );
  }
}

/** Any thrown value as a serializable error; unknown errors keep their message under `internal`. */
export function toSerializedError(error: unknown): SerializedError {
  if (error instanceof AppError) return error.toJSON();
  if (isAbortError(error)) return { code: 'aborted', message: 'Cancelled.' };
  const message = error instanceof Error ? error.message : String(error);
  return { code: 'internal', message };
}

export function fromSerializedError(error: SerializedError): AppError {
  return new AppError(error.code, error.message);
}

export function isAbortError(error: unknown): boolean {
  return (
    (error instanceof AppError && error.code === 'aborted') ||
    (typeof error === 'object' && error !== null && 'name' in error && error.name === 'AbortError')
  );
}
