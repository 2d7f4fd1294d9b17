/**
 * `serve`: an OpenAI-compatible server over a local Transformers.js model, so anything that speaks
 * the OpenAI API (the OpenAI engine, the dataset builder's roles, other tools) can use the model,
 * including teacher-forced prompt log-probs (echo / prompt_logprobs) for scoring.
 *
 * Inputs: a model folder (or hub id), host and port. Output: one line on stdout with the base URL
 * once listening ("Serving <name> at http://127.0.0.1:8000/v1"), request lines on stderr unless
 * --quiet. Runs until SIGINT or SIGTERM, then closes the server (dropping open connections),
 * releases the model and exits 0. Exit 2 when the model folder is incomplete or the port cannot be bound.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Command, InvalidArgumentError, Option } from 'commander';
import { AppError } from '../../src/core/errors.ts';
import { loadLocalEngine } from '../lib/localEngine.ts';
import { createOpenAiServer } from '../lib/openaiServer.ts';
import { loadServerTokenizer, type ServerTokenizer } from '../lib/serverTokenizer.ts';
import { createReporter, defaultReporterMode } from '../lib/reporter.ts';

interface ServeCliOptions {
  model: string;
  port: number;
  host: string;
  servedModelName?: string;
  device: 'cpu' | 'cuda';
  dtype: 'fp32' | 'fp16' | 'q8' | 'q4';
  maxTokens: number;
  quiet?: boolean;
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

export function serveCommand(): Command {
  return new Command('serve')
    .description('Serve a local model over an OpenAI-compatible HTTP API (chat, completions with prompt log-probs, tokenize).')
    .requiredOption('--model <dir|hub id>', 'model folder with config.json, tokenizer files and onnx/model.onnx')
    .option('--port <n>', 'port to listen on (0 = any free port)', parsePort, 8000)
    .option('--host <address>', 'address to bind; anything but loopback exposes the model without authentication', '127.0.0.1')
    .option('--served-model-name <name>', 'the model id clients send (default: the --model value)')
    .addOption(new Option('--device <device>', 'ONNX Runtime device').choices(['cpu', 'cuda']).default('cpu'))
    .addOption(new Option('--dtype <dtype>', 'weights file to load').choices(['fp32', 'fp16', 'q8', 'q4']).default('fp32'))
    .option('--max-tokens <n>', 'default max_tokens for chat completions', parsePositive, 256)
    .option('--quiet', 'no request log')
    .action(async (options: ServeCliOptions) => {
      await runServe(options);
    });
}

async function runServe(options: ServeCliOptions): Promise<void> {
  const reporter = createReporter(options.quiet ? 'silent' : defaultReporterMode());
  if (!LOOPBACK.has(options.host)) reporter.warn(`listening on ${options.host}: anyone who can reach it can use the model (there is no authentication).`);
  const engine = await loadLocalEngine(options.model, { device: options.device, dtype: options.dtype }, reporter);
  let tokenizer: ServerTokenizer | undefined;
  try {
    tokenizer = await loadServerTokenizer(options.model);
    const modelName = options.servedModelName ?? options.model;
    const generateFromIds = engine.generateFromIds?.bind(engine);
    const server = createOpenAiServer(engine, {
      modelName,
      tokenizer,
      ...(generateFromIds ? { continuer: { continueIds: generateFromIds } } : {}),
      defaultMaxTokens: options.maxTokens,
      ...(options.quiet ? {} : { log: (line: string) => reporter.info(line) }),
    });
    await listen(server, options.port, options.host);
    const { port } = server.address() as AddressInfo;
    const host = options.host.includes(':') ? `[${options.host}]` : options.host;
    process.stdout.write(`Serving ${modelName} at http://${host}:${port}/v1\n`);
    await untilSignal();
    reporter.info('Stopping.');
    server.close();
    server.closeAllConnections();
  } finally {
    await tokenizer?.close();
    await engine.dispose();
  }
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      reject(new AppError('invalid-input', `Cannot listen on ${host}:${port} (${error.code ?? error.message}): pick another --port or --host.`));
    });
    server.listen(port, host, () => resolvePromise());
  });
}

/** Resolves on the first SIGINT or SIGTERM; the handlers are removed so a second signal kills as usual. */
function untilSignal(): Promise<void> {
  return new Promise((resolvePromise) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolvePromise();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}

function parsePort(value: string): number {
  const port = Number(value);
  if (!/^\d+$/.test(value) || port > 65535) throw new InvalidArgumentError('expected a port number (0–65535)');
  return port;
}

function parsePositive(value: string): number {
  const parsed = Number(value);
  if (!/^\d+$/.test(value) || parsed < 1) throw new InvalidArgumentError('expected a positive integer');
  return parsed;
}
