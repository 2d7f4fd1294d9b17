/**
 * Probes the page spec installs before the page's own scripts run: long tasks on the main thread
 * (PerformanceObserver `longtask`), a `window.__pwned` trap that records any write (script payloads
 * in pasted or generated text try to set it), and a record of every network request, dialog and
 * uncaught page error and Content-Security-Policy violation, checked after every test of the walk
 * (`expectPageClean`). Also raw access to
 * the page's IndexedDB, for records a test writes or reads as stored.
 */
import { expect, test, type Browser, type BrowserContext, type Page } from '@playwright/test';

declare global {
  interface Window {
    __longTasks: { start: number; duration: number }[];
    __pwnedHits: string[];
    __pwned: unknown;
  }
}

/** Installs the long-task observer and the `__pwned` trap in every document of the context. */
export async function installProbes(context: BrowserContext): Promise<void> {
  await context.addInitScript(() => {
    window.__longTasks = [];
    window.__pwnedHits = [];
    Object.defineProperty(window, '__pwned', {
      configurable: false,
      get: () => undefined,
      set: (value: unknown) => {
        window.__pwnedHits.push(String(value));
      },
    });
    try {
      new PerformanceObserver((list) => {
        for (const entry of list.getEntries()) window.__longTasks.push({ start: entry.startTime, duration: entry.duration });
      }).observe({ type: 'longtask', buffered: true });
    } catch {
      // No long-task support: the spec reports no measurement rather than zero.
      window.__longTasks = [{ start: -1, duration: -1 }];
    }
  });
}

/** Every URL requested by the context's pages and their workers. */
export function recordRequests(context: BrowserContext): string[] {
  const urls: string[] = [];
  context.on('request', (request) => urls.push(request.url()));
  return urls;
}

/** Requests that left the page's origin (data: and blob: URLs never leave the browser). */
export function foreignRequests(urls: readonly string[], origin: string): string[] {
  return [...new Set(urls)].filter((url) => !url.startsWith('data:') && !url.startsWith('blob:') && new URL(url).origin !== origin);
}

/**
 * A phase of the walk whose long tasks are measured: `end` gives the longest main-thread task in
 * ms since the start (0: none over 50 ms; -1: this browser reports no long tasks).
 */
export async function startPhase(page: Page): Promise<{ end(): Promise<number> }> {
  const start = await page.evaluate(() => performance.now());
  return {
    async end() {
      return page.evaluate((from) => {
        const now = performance.now();
        if (window.__longTasks[0]?.start === -1) return -1;
        const tasks = window.__longTasks.filter((task) => task.start >= from && task.start <= now);
        return tasks.reduce((longest, task) => Math.max(longest, task.duration), 0);
      }, start);
    },
  };
}

export async function pwnedHits(page: Page): Promise<string[]> {
  return page.evaluate(() => window.__pwnedHits);
}

/** Writes a record straight into the page's IndexedDB store, as a damaged or hostile record would arrive. */
export async function putRecord(page: Page, store: string, record: unknown): Promise<void> {
  await page.evaluate(
    ([storeName, value]) =>
      new Promise<void>((resolve, reject) => {
        const open = indexedDB.open('wikipersona-playground');
        open.onerror = () => reject(open.error);
        open.onsuccess = () => {
          const db = open.result;
          const tx = db.transaction(storeName as string, 'readwrite');
          tx.objectStore(storeName as string).put(value);
          tx.oncomplete = () => {
            db.close();
            resolve();
          };
          tx.onerror = () => reject(tx.error);
        };
      }),
    [store, record] as const,
  );
}

/** Every record of one of the page's IndexedDB stores, as stored (parse them before trusting them). */
export async function readRecords(page: Page, store: string): Promise<unknown[]> {
  return page.evaluate(
    (storeName) =>
      new Promise<unknown[]>((resolve, reject) => {
        const open = indexedDB.open('wikipersona-playground');
        open.onerror = () => reject(open.error);
        open.onsuccess = () => {
          const db = open.result;
          const request = db.transaction(storeName, 'readonly').objectStore(storeName).getAll();
          request.onsuccess = () => {
            db.close();
            resolve(request.result as unknown[]);
          };
          request.onerror = () => reject(request.error);
        };
      }),
    store,
  );
}

/** What happened on a page since the last check: requests, dialogs, uncaught errors. */
/** What a `securitypolicyviolation` event reports, kept in Node so reloads lose none. */
export interface CspViolation {
  url: string;
  directive: string;
  blocked: string;
  sample: string;
  source: string;
}

/**
 * Every `securitypolicyviolation` event fired in the context's pages, in order. The listener is
 * installed before the page's scripts run and reports to Node at once, so the list survives reloads.
 */
export async function recordCspViolations(context: BrowserContext): Promise<CspViolation[]> {
  const violations: CspViolation[] = [];
  await context.exposeFunction('__reportCspViolation', (violation: CspViolation) => void violations.push(violation));
  await context.addInitScript(() => {
    const report = (window as unknown as { __reportCspViolation(violation: CspViolation): Promise<void> }).__reportCspViolation;
    document.addEventListener('securitypolicyviolation', (event) => {
      void report({
        url: event.documentURI,
        directive: event.effectiveDirective,
        blocked: event.blockedURI,
        sample: event.sample,
        source: `${event.sourceFile}:${event.lineNumber}:${event.columnNumber}`,
      });
    });
  });
  return violations;
}

export interface PageWatch {
  requests: string[];
  dialogs: string[];
  pageErrors: string[];
  cspViolations: CspViolation[];
}

/** Starts recording `page`'s requests (its workers' too), dialogs (dismissed), uncaught errors and CSP violations. */
export async function watchPage(context: BrowserContext, page: Page): Promise<PageWatch> {
  const watch: PageWatch = { requests: recordRequests(context), dialogs: [], pageErrors: [], cspViolations: await recordCspViolations(context) };
  page.on('dialog', (dialog) => {
    watch.dialogs.push(dialog.message());
    void dialog.dismiss();
  });
  page.on('pageerror', (error) => watch.pageErrors.push(error.message));
  return watch;
}

interface WatchedPage {
  context: BrowserContext;
  page: Page;
  watch: PageWatch;
  /** The page's origin: requests anywhere else fail `expectPageClean`. */
  origin: string;
}

/** A fresh browser context (an empty profile) with the probes installed, and its page opened at `baseURL`, watched. */
async function openWatchedPage(browser: Browser, baseURL: string): Promise<WatchedPage> {
  const context = await browser.newContext({ baseURL });
  await installProbes(context);
  const page = await context.newPage();
  const watch = await watchPage(context, page);
  await page.goto('./');
  return { context, page, watch, origin: new URL(baseURL).origin };
}

/**
 * One watched page shared by the tests of the enclosing describe block: opened in a fresh context
 * before the first (`onOpen` receives it), checked clean after each (after `beforeCheck`, which
 * puts back what a test may leave, such as the viewport), closed after the last.
 */
export function shareWatchedPage(onOpen: (page: Page) => void, beforeCheck?: (page: Page) => Promise<void>): void {
  let session: WatchedPage | undefined;
  test.beforeAll(async ({ browser }, testInfo) => {
    session = await openWatchedPage(browser, testInfo.project.use.baseURL as string);
    onOpen(session.page);
  });
  test.afterEach(async () => {
    const { page, watch, origin } = session as WatchedPage;
    await beforeCheck?.(page);
    await expectPageClean(page, watch, origin);
  });
  test.afterAll(async () => {
    await session?.context.close();
  });
}

/**
 * Fails when, since the last check, a script payload ran, a dialog opened, an error went uncaught
 * a request left `origin` or the Content-Security-Policy refused something; then starts the next
 * check afresh.
 */
export async function expectPageClean(page: Page, watch: PageWatch, origin: string): Promise<void> {
  const hits = page.isClosed() ? [] : await pwnedHits(page);
  const found = {
    pwned: hits,
    dialogs: [...watch.dialogs],
    pageErrors: [...watch.pageErrors],
    foreignRequests: foreignRequests(watch.requests, origin),
    cspViolations: [...watch.cspViolations],
  };
  watch.cspViolations.length = 0;
  watch.dialogs.length = 0;
  watch.pageErrors.length = 0;
  watch.requests.length = 0;
  expect(found).toEqual({ pwned: [], dialogs: [], pageErrors: [], foreignRequests: [], cspViolations: [] });
}
