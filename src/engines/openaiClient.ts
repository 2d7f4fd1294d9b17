/**
 * The HTTP side the OpenAI engine and the CLI's OpenAI-compatible providers share: API keys from
 * the environment (never stored), the SDK client (no ambient OPENAI_* settings, no request logs,
 * servers' error messages kept even in vLLM's older error shape), the server root where vLLM
 * serves /tokenize, and SDK failures turned into one-line AppErrors with secrets scrubbed.
 */
import OpenAI, { APIConnectionError, APIError, APIUserAbortError } from 'openai';
import { z } from 'zod';
import { AppError } from '../core/errors.ts';

/** Reads an environment variable without Node types (this module also runs in the browser). */
export function readEnvironment(name: string): string | undefined {
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env;
  const value = env?.[name];
  return value === undefined || value === '' ? undefined : value;
}

/** The key named by `apiKeyEnv`, or an error naming the variable to set. */
export function resolveApiKey(apiKeyEnv: string | undefined): string | undefined {
  if (apiKeyEnv === undefined) return undefined;
  const key = readEnvironment(apiKeyEnv);
  if (key === undefined) throw new AppError('invalid-input', `The environment variable ${apiKeyEnv} is not set: export the API key there, or drop the key setting for a server without one.`);
  return key;
}

/**
 * An SDK client with the key passed explicitly: the SDK would otherwise pick up OPENAI_API_KEY and
 * OPENAI_ORG_ID from the environment and send them to whatever server the base URL names.
 */
export function createOpenAiClient(options: { baseUrl: string; apiKey: string | undefined; timeoutMs: number; maxRetries: number }): OpenAI {
  return new OpenAI({
    baseURL: options.baseUrl,
    apiKey: options.apiKey ?? 'no-key',
    organization: null,
    project: null,
    webhookSecret: null,
    timeout: options.timeoutMs,
    maxRetries: options.maxRetries,
    // Our errors carry the information; the SDK's logger must not print requests.
    logLevel: 'off',
    // Without a key there is nothing secret to expose in a page (a local vLLM server, say).
    dangerouslyAllowBrowser: options.apiKey === undefined,
    fetch: fetchKeepingErrorMessages,
  });
}

const FlatError = z.object({ message: z.string() }).loose();

/**
 * vLLM before 0.10 (and FastAPI's own 422s) answer errors without OpenAI's `error` wrapper
 * (`{"object": "error", "message": …}`), which the SDK would reduce to "status code (no body)":
 * such a body is wrapped, so the server's message reaches the user.
 */
export async function fetchKeepingErrorMessages(input: string | URL | Request, init?: RequestInit): Promise<Response> {
  const response = await fetch(input, init);
  if (response.ok) return response;
  let body: unknown;
  try {
    body = JSON.parse(await response.clone().text()) as unknown;
  } catch {
    return response;
  }
  if (typeof body !== 'object' || body === null || 'error' in body) return response;
  const flat = FlatError.safeParse(body);
  const message = flat.success ? flat.data.message : JSON.stringify(body);
  return new Response(JSON.stringify({ error: { ...(flat.success ? flat.data : {}), message } }), { status: response.status, statusText: response.statusText, headers: response.headers });
}

/** The server root: vLLM serves `/tokenize` beside `/v1`, not under it. */
export function serverRoot(baseUrl: string): string {
  return baseUrl.replace(/\/+$/, '').replace(/\/v\d+$/, '');
}

/** Server messages may span lines; a CLI error is one line. */
export function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

export function redact(text: string, secrets: readonly string[]): string {
  return secrets.filter((secret) => secret.length > 0).reduce((out, secret) => out.split(secret).join('[redacted]'), text);
}

/** The server's own error message, when its body has the OpenAI shape. */
export function serverMessage(error: APIError): string {
  const body = error.error as { message?: unknown } | undefined;
  return typeof body?.message === 'string' ? body.message : '';
}

/** An SDK failure (after the SDK's own retries) as an AppError that says what to do. */
export function toAppError(error: unknown, what: string, options: { baseUrl: string; apiKeyEnv?: string | undefined }, secrets: readonly string[]): AppError {
  if (error instanceof AppError) return error;
  if (error instanceof APIUserAbortError) return new AppError('aborted', 'Cancelled.');
  if (error instanceof z.ZodError) return new AppError('unsupported', redact(`${what} answered in an unexpected shape (${z.prettifyError(error)}): is this an OpenAI-compatible server?`, secrets));
  if (error instanceof APIConnectionError) {
    return new AppError('invalid-input', redact(`Cannot reach ${options.baseUrl} (${error.message}): start the server or fix the base URL.`, secrets));
  }
  if (error instanceof APIError) {
    const status = error.status;
    const detail = oneLine(serverMessage(error));
    const suffix = detail ? ` (${detail})` : '';
    let message: string;
    let code: AppError['code'] = 'invalid-input';
    if (status === 401 || status === 403) {
      message = `${what} was refused (HTTP ${status})${suffix}: ${options.apiKeyEnv ? `check the key in ${options.apiKeyEnv}` : 'the server wants an API key: name its environment variable in the options'}.`;
    } else if (status === 404) {
      message = `${what} was not found (HTTP 404)${suffix}: check the base URL and the model name.`;
    } else if (status === 429) {
      code = 'quota-exceeded';
      message = `${what} is rate-limited (HTTP 429)${suffix}: wait, or lower the request rate.`;
    } else if (status !== undefined && status >= 500) {
      code = 'unavailable';
      message = `${what} failed on the server (HTTP ${status})${suffix}: check the server and retry.`;
    } else {
      message = `${what} was refused (HTTP ${status ?? '?'})${suffix}.`;
    }
    return new AppError(code, redact(message, secrets));
  }
  const text = error instanceof Error ? error.message : String(error);
  return new AppError('internal', redact(`${what} failed: ${text}`, secrets));
}
