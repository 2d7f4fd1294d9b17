/**
 * The contract between the driver page (driver.html → src/app/driver.ts) and the Node side that
 * drives it through Playwright (scripts/lib/eval/browserEngine.ts). Types only, built from core
 * types, so both sides import it without pulling in the other's runtime.
 *
 * Every call answers an `Outcome`, never a rejection: a thrown AppError would reach Node as a
 * plain Error with its code lost, and the eval rows record failures by code.
 */
import type { ChatMessage } from '../core/chat.ts';
import type { EngineInfo, GenerateOptionsInput, GenerateResult, LoadProgress, ScoreRequest, ScoreResult } from '../core/engine.ts';
import type { SerializedError } from '../core/errors.ts';
import type { EngineSpecInput } from '../core/protocol.ts';

export type DriverOutcome<T> = { ok: true; value: T } | { ok: false; error: SerializedError };

export interface PlaygroundDriver {
  /** Whether this browser exposes a WebGPU adapter (decides `auto` devices). */
  probeWebGpu(): Promise<boolean>;
  /** Loads `spec` in a fresh model worker (disposing any loaded one); progress goes to `window.playgroundDriverProgress`. */
  load(spec: EngineSpecInput): Promise<DriverOutcome<EngineInfo>>;
  /** Streams text deltas to `window.playgroundDriverToken(callId, text)`. */
  generate(callId: string, messages: ChatMessage[], options: GenerateOptionsInput): Promise<DriverOutcome<GenerateResult>>;
  score(callId: string, request: ScoreRequest): Promise<DriverOutcome<ScoreResult>>;
  tokenize(text: string): Promise<DriverOutcome<number[]>>;
  /** Aborts the running call `callId` (a generate ends with finishReason `aborted`, a score rejects with `aborted`). */
  cancel(callId: string): void;
  /** The loaded engine's info, or null before a load. */
  info(): EngineInfo | null;
  dispose(): Promise<void>;
}

/** Hooks the Node side exposes on the page (Playwright `exposeFunction`) before it loads. */
export interface DriverHooks {
  playgroundDriverProgress?: (progress: LoadProgress) => void;
  playgroundDriverToken?: (callId: string, text: string) => void;
}

declare global {
  interface Window extends DriverHooks {
    playgroundDriver?: PlaygroundDriver;
  }
}
