/**
 * The page (src/app/main.ts) with one difference: its model worker is
 * tests/e2e/harness/webllmStandIn.worker.ts, where WebLLM runs on the stand-in. Test builds only.
 */
import '../../../src/app/lib/noEval.ts';
import { mount } from 'svelte';
import App from '../../../src/app/App.svelte';

const target = document.getElementById('app');
if (!target) throw new Error('standin.html has no #app element');
const createWorker = () => new Worker(new URL('./webllmStandIn.worker.ts', import.meta.url), { type: 'module', name: 'model-worker' });
mount(App, { target, props: { worker: { createWorker } } });
