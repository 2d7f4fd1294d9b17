/**
 * Resilience shared by every HTTP provider (chat, reward): retries with exponential backoff and
 * jitter, `Retry-After` honoured (seconds or an HTTP date), one concurrency limit and one pause per
 * endpoint shared by every role that calls the same base URL, and a clear stop after repeated
 * failure. Secrets (API keys) are scrubbed from every message this module produces.
 *
 * Failures handled: 408/409/429/5xx and network errors are retried; a 429 pauses the whole
 * endpoint for its Retry-After (so the other roles back off too); other 4xx stop at once with
 * what to do; a Retry-After beyond `maxRetryAfterMs` stops instead of stalling a run for an hour;
 * cancellation stops waiting immediately. Work already done is the caller's to keep: callers
 * persist each result as it arrives, so a stop here loses nothing finished.
 */
import { setTimeout as delay } from 'node:timers/promises';
import pLimit, { type LimitFunction } from 'p-limit';
import { throwIfCancelled, type CancelSignal } from '../../src/core/cancel.ts';
import { AppError, type ErrorCode } from '../../src/core/errors.ts';

export interface RetryPolicy {
  /** Retries after the first attempt (0 = a single attempt). */
  maxRetries: number;
  /** First backoff; doubled per retry. */
  baseDelayMs: number;
  maxDelayMs: number;
  /** A longer Retry-After stops the run instead of waiting. */
  maxRetryAfterMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = { maxRetries: 5, baseDelayMs: 1000, maxDelayMs: 60_000, maxRetryAfterMs: 600_000 };

/** One failed attempt, classified. */
export type AttemptFailure =
  | { kind: 'http'; status: number; message: string; retryAfterMs?: number }
  | { kind: 'network'; message: string }
  /** The body was not JSON (a truncated or garbled answer): worth another try. */
  | { kind: 'malformed'; message: string }
  /** JSON of the wrong shape: the endpoint speaks another API, retrying will not help. */
  | { kind: 'invalid-response'; message: string }
  | { kind: 'aborted' };

const RETRYABLE_STATUS = new Set([408, 409, 425, 429, 500, 502, 503, 504]);

export function isRetryable(failure: AttemptFailure): boolean {
  if (failure.kind === 'http') return RETRYABLE_STATUS.has(failure.status) || failure.status >= 500;
  return failure.kind === 'network' || failure.kind === 'malformed';
}

/** A provider call that stopped: the HTTP status (if any) and how many attempts were made. */
export class ProviderError extends AppError {
  constructor(
    code: ErrorCode,
    message: string,
    readonly status: number | undefined,
    readonly attempts: number,
  ) {
    super(code, message);
  }
}

/** Retry-After as milliseconds from `now`: delta-seconds or an HTTP date; undefined when absent or unparsable. */
export function parseRetryAfter(value: string | null | undefined, now = Date.now()): number | undefined {
  if (value === null || value === undefined || value.trim() === '') return undefined;
  const text = value.trim();
  if (/^\d+(\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000);
  const date = Date.parse(text);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** Exponential backoff with "equal jitter": half fixed, half random, so retries of many callers spread out. */
export function backoffDelay(retry: number, policy: RetryPolicy, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** retry);
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

/** Replaces every occurrence of each secret with a marker, so no message can leak a key. */
export function redact(text: string, secrets: readonly string[]): string {
  return secrets.filter((secret) => secret.length > 0).reduce((out, secret) => out.split(secret).join('[redacted]'), text);
}

/** A base URL's shared state: its concurrency limit and the time until which a 429 paused it. */
export interface Endpoint {
  readonly key: string;
  readonly limit: LimitFunction;
  pausedUntil: number;
  /** Requests in flight right now (for tests and reports). */
  readonly active: () => number;
}

const endpoints = new Map<string, Endpoint>();

/** Normalises a URL so "http://h:80/v1/" and "http://h/v1" share one endpoint. */
export function endpointKey(url: string): string {
  const parsed = new URL(url);
  return `${parsed.protocol}//${parsed.host}${parsed.pathname.replace(/\/+$/, '')}`;
}

/**
 * The endpoint for a URL, shared process-wide. When roles ask for different limits on the same
 * endpoint the lowest wins: the server's capacity is one number, whoever states it.
 */
export function endpointFor(url: string, concurrency: number): Endpoint {
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new AppError('invalid-input', `Concurrency must be a positive integer, got ${concurrency}.`);
  const key = endpointKey(url);
  const existing = endpoints.get(key);
  if (existing) {
    if (concurrency < existing.limit.concurrency) existing.limit.concurrency = concurrency;
    return existing;
  }
  const limit = pLimit(concurrency);
  const endpoint: Endpoint = { key, limit, pausedUntil: 0, active: () => limit.activeCount };
  endpoints.set(key, endpoint);
  return endpoint;
}

export interface ResilientCallOptions {
  endpoint: Endpoint;
  policy: RetryPolicy;
  /** What is being called, for messages: "POST http://host/v1/chat/completions". */
  what: string;
  /** Appended to a 401/403 message: how to fix the credentials (names the env variable). */
  authHint: string;
  secrets: readonly string[];
  signal?: CancelSignal;
  /** Called before each retry with a one-line, secret-free explanation. */
  onRetry?: (message: string) => void;
  /** Counts every HTTP attempt and retry, for provider stats. */
  onAttempt?: () => void;
}

/**
 * Runs `attempt` under the endpoint's limit until it succeeds, a failure is not retryable, or the
 * retries are spent. `classify` turns whatever an attempt threw into an AttemptFailure.
 */
export async function resilientCall<T>(
  options: ResilientCallOptions,
  attempt: (signal: AbortSignal) => Promise<T>,
  classify: (error: unknown) => AttemptFailure,
): Promise<T> {
  const { endpoint, policy, signal } = options;
  const controller = new AbortController();
  const onAbort = () => controller.abort();
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    for (let retry = 0; ; retry++) {
      throwIfCancelled(signal);
      let failure: AttemptFailure;
      try {
        return await endpoint.limit(async () => {
          // A 429 elsewhere paused the endpoint: wait it out inside the slot, since nobody may call now anyway.
          await sleep(endpoint.pausedUntil - Date.now(), controller.signal);
          throwIfCancelled(signal);
          options.onAttempt?.();
          return attempt(controller.signal);
        });
      } catch (error) {
        failure = signal?.aborted ? { kind: 'aborted' } : classify(error);
      }
      if (failure.kind === 'aborted') throw new AppError('aborted', 'Cancelled.');
      const attempts = retry + 1;
      if (!isRetryable(failure)) throw stopError(failure, attempts, options);
      if (retry >= policy.maxRetries) throw giveUpError(failure, attempts, options);

      let wait = backoffDelay(retry, policy);
      if (failure.kind === 'http' && failure.status === 429) {
        const retryAfter = failure.retryAfterMs;
        if (retryAfter !== undefined && retryAfter > policy.maxRetryAfterMs) throw tooLongError(failure, retryAfter, attempts, options);
        // The whole endpoint pauses for Retry-After (or the backoff); this caller then adds a little
        // jitter so the paused callers do not all return in the same millisecond.
        const pause = retryAfter ?? wait;
        endpoint.pausedUntil = Math.max(endpoint.pausedUntil, Date.now() + pause);
        wait = pause + Math.round(Math.random() * Math.min(1000, pause * 0.1));
      } else if (failure.kind === 'http' && failure.retryAfterMs !== undefined) {
        wait = Math.max(wait, failure.retryAfterMs);
      }
      options.onRetry?.(
        redact(`${options.what}: ${describe(failure)}; retry ${retry + 1}/${policy.maxRetries} in ${(wait / 1000).toFixed(1)} s`, options.secrets),
      );
      await sleep(wait, controller.signal);
    }
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
}

async function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (ms <= 0) return;
  try {
    await delay(ms, undefined, { signal });
  } catch {
    throw new AppError('aborted', 'Cancelled.');
  }
}

function describe(failure: AttemptFailure): string {
  switch (failure.kind) {
    case 'http':
      return `HTTP ${failure.status}${failure.message ? ` (${failure.message})` : ''}`;
    case 'network':
      return `network error (${failure.message})`;
    case 'malformed':
      return `unreadable response (${failure.message})`;
    case 'invalid-response':
      return `unexpected response (${failure.message})`;
    case 'aborted':
      return 'cancelled';
  }
}

function statusOf(failure: AttemptFailure): number | undefined {
  return failure.kind === 'http' ? failure.status : undefined;
}

/** A failure retrying cannot fix: say what the caller must change. */
function stopError(failure: AttemptFailure, attempts: number, options: ResilientCallOptions): ProviderError {
  const status = statusOf(failure);
  let advice: string;
  let code: ErrorCode = 'invalid-input';
  if (status === 401 || status === 403) advice = options.authHint;
  else if (status === 404) advice = 'check the base URL and the model name';
  else if (failure.kind === 'invalid-response') {
    advice = 'the endpoint does not speak the expected API: check the URL';
    code = 'unsupported';
  } else advice = 'the request was refused: fix it and re-run (finished results are kept)';
  return new ProviderError(code, redact(`${options.what} failed with ${describe(failure)}: ${advice}.`, options.secrets), status, attempts);
}

/** Retries spent: the endpoint is down or overloaded. */
function giveUpError(failure: AttemptFailure, attempts: number, options: ResilientCallOptions): ProviderError {
  const status = statusOf(failure);
  // 429 is the user's quota or rate limit; anything else means the service is failing.
  const code: ErrorCode = status === 429 ? 'quota-exceeded' : 'unavailable';
  const advice =
    status === 429
      ? 'the rate limit or quota is exhausted: lower the concurrency, or wait and re-run'
      : 'the service is failing or unreachable: check it and re-run';
  return new ProviderError(
    code,
    redact(`${options.what} failed ${attempts === 1 ? 'once, with' : `${attempts} times, last with`} ${describe(failure)}: ${advice} (finished results are kept and not requested again).`, options.secrets),
    status,
    attempts,
  );
}

function tooLongError(failure: AttemptFailure, retryAfterMs: number, attempts: number, options: ResilientCallOptions): ProviderError {
  return new ProviderError(
    'quota-exceeded',
    redact(
      `${options.what} answered HTTP 429 asking to wait ${Math.ceil(retryAfterMs / 1000)} s (more than ${Math.round(options.policy.maxRetryAfterMs / 1000)} s): re-run later (finished results are kept).`,
      options.secrets,
    ),
    statusOf(failure),
    attempts,
  );
}
