/**
 * The page's model worker as workers/engine.worker.ts builds it (the real EngineHost and network
 * guard, the real Transformers.js and WebLLM adapters), except that the WebLLM adapter runs on the
 * stand-in of WebLLM (tests/support/webllmStandIn/) over the tiny Llama. A model whose id ends in
 * `-perturbed` gets a model library whose one-pass logits are off, as a broken GPU kernel would
 * make them: the adapter's run-time check must catch it and fall back. Test builds only.
 */
import type { WebLlmEngineOptions } from '../../../src/engines/webllm/index.ts';
import { EngineHost, type EngineFactories } from '../../../workers/engineHost.ts';
import { NetworkGuard } from '../../../workers/networkGuard.ts';
import { STAND_IN_MODEL_URL } from '../../support/webllmStandInUrls.ts';

const network = new NetworkGuard(self);

/** Added to one-pass logits by the perturbed library: far beyond any build's tolerance. */
const PERTURBATION = 0.5;

const factories: EngineFactories = {
  transformers: async () => ({ create: (await import('../../../src/engines/transformers.ts')).createTransformersEngine }),
  webllm: async () => {
    const [{ createWebLlmEngine }, { createBrowserStandIn }] = await Promise.all([import('../../../src/engines/webllm/index.ts'), import('./webllmStandInWorld.ts')]);
    return {
      async create(options: WebLlmEngineOptions, onProgress) {
        // The site's root, where the test build serves models/ and ort/: this script is in assets/.
        const siteRoot = new URL('../', self.location.href).href;
        const perturbed = options.modelId?.endsWith('-perturbed') ?? false;
        const world = await createBrowserStandIn(siteRoot, { modelUrl: STAND_IN_MODEL_URL, prefillChunkSize: 64, library: { perturbOnePass: perturbed ? PERTURBATION : 0 } });
        return createWebLlmEngine(options, onProgress, world.deps);
      },
    };
  },
};

new EngineHost(self, factories, { network });
