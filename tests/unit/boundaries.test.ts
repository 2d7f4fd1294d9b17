/**
 * The folder boundaries are lint rules (eslint.boundaries.js); each test plants a violation of one
 * boundary in a file of that folder, lints it with the project's own config, and shows the lint
 * fails it, while the same file's legitimate imports pass.
 */
import { ESLint } from 'eslint';
import { beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../support/runCli.ts';

let eslint: ESLint;

beforeAll(() => {
  eslint = new ESLint({ cwd: PROJECT_ROOT });
});

/** The boundary messages ESLint reports for `code` as if it were the file `path`. */
async function violations(path: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: `${PROJECT_ROOT}/${path}` });
  return (result?.messages ?? []).filter((message) => message.ruleId === 'no-restricted-imports' || message.ruleId === 'no-restricted-syntax').map((message) => `${message.line}: ${message.message}`);
}

describe('folder boundaries', () => {
  it('src/core imports nothing outside itself, relative paths included', async () => {
    const code = [
      "export { scorePair } from '../scorer.ts';", // inside the core: allowed
      "export { wordCount } from '../../core/words.ts';", // out and back in: allowed
      "export { createOpenAiEngine } from '../../engines/openai.ts';",
      "export const lazy = () => import('../../../scripts/lib/usage.ts');",
      "export { readFile } from 'node:fs';",
    ].join('\n');
    const found = await violations('src/core/eval/planted.ts', code);
    expect(found).toHaveLength(3);
    expect(found[0]).toMatch(/^3: .*src\/core imports nothing outside src\/core/);
    expect(found.map((line) => line.split(':')[0])).toEqual(['3', '4', '5']);
    expect(await violations('src/core/planted.ts', "export { z } from 'zod';\nexport { verdict } from './aggregate.ts';")).toEqual([]);
  });

  it('src/app imports no engine, engine library or worker internal, and starts only the worker entry', async () => {
    const code = [
      "import { createTransformersEngine } from '../../engines/transformers.ts';",
      "import { EngineHost } from '../../../workers/engineHost.ts';",
      "import * as webllm from '@mlc-ai/web-llm';",
      "const late = () => import('../../engines/webllm.ts');",
      "const host = new Worker(new URL('../../../workers/engineHost.ts', import.meta.url));",
      "const entry = new Worker(new URL('../../../workers/engine.worker.ts', import.meta.url), { type: 'module' });",
      "import { WorkerEngine } from './workerEngine.ts';",
      "import { scorePair } from '../../core/scorer.ts';",
      'export { createTransformersEngine, EngineHost, webllm, late, host, entry, WorkerEngine, scorePair };',
    ].join('\n');
    const found = await violations('src/app/engine/planted.ts', code);
    expect(found.map((line) => line.split(':')[0])).toEqual(['1', '2', '3', '4', '5']);
    expect(found[4]).toMatch(/starts only the worker entry/);
  });

  it('engines import no page, CLI or test code', async () => {
    const code = [
      "import { gpuInfo } from '../app/lib/gpu.ts';",
      "import { createReporter } from '../../scripts/lib/reporter.ts';",
      "import { fakeEngine } from '../../tests/support/fakeEngine.ts';",
      "import { AppError } from '../core/errors.ts';",
      'export { gpuInfo, createReporter, fakeEngine, AppError };',
    ].join('\n');
    expect((await violations('src/engines/planted.ts', code)).map((line) => line.split(':')[0])).toEqual(['1', '2', '3']);
    // The same rule one folder deeper (an engine split into a folder).
    expect(await violations('src/engines/webllm/planted.ts', "export { gpuInfo } from '../../app/lib/gpu.ts';")).toHaveLength(1);
  });

  it('product code imports nothing from tests/', async () => {
    expect(await violations('scripts/bench/planted.ts', "export { fakeEngine } from '../../tests/support/fakeEngine.ts';")).toHaveLength(1);
    expect(await violations('workers/planted.ts', "export { fakeEngine } from '../tests/support/fakeEngine.ts';")).toHaveLength(1);
    expect(await violations('scripts/bench/planted.ts', "export { ensureTinyModel } from '../fixtures/tinyModelFixture.ts';")).toEqual([]);
  });
});
