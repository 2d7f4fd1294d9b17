/**
 * Imported first by every page entry (main.ts, driver.ts, the test harness). The page's
 * Content-Security-Policy forbids eval; zod 4 would probe `new Function` on its first object
 * parse to compile faster parsers, and the browser reports that blocked probe as a policy
 * violation. `jitless` makes zod skip the probe and parse without generated code. The model
 * worker is not under the page's policy and keeps zod's compiled parsers.
 */
import { z } from 'zod';

z.config({ jitless: true });
