/**
 * Markdown for model output and pasted answers: parsed by marked, then sanitized by DOMPurify
 * with an allow-list, on the main thread (DOMPurify needs a DOM).
 *
 * Raw HTML in the text is shown as text, never parsed: it is data the user pasted or a model
 * wrote, and parsing it at all (even in DOMPurify's inert document) makes the browser report every
 * inline handler in it as a Content-Security-Policy violation. DOMPurify then only ever sees the
 * markup marked itself writes, and stays as the allow-list behind it.
 *
 * What it guarantees, and the e2e test checks: no script runs (`<script>`, `on*` handlers,
 * `javascript:`/`data:` links), and nothing fetches anything: images, iframes, CSS and forms are
 * not allowed, so text a model writes cannot make the page call a server (a remote image in
 * generated markdown would leak that the page was viewed). Images are shown as their alt text and
 * address. Links open in a new tab without the opener.
 *
 * Under the page's Trusted Types policy (lib/trustedTypes.ts) this is the only code that can make
 * HTML: it returns TrustedHTML, which `{@html}` accepts and no plain string replaces. The policy
 * vouches for nothing itself: DOMPurify uses it to parse its input and to sign its output, and it
 * refuses every call made outside a sanitize run.
 */
import DOMPurify from 'dompurify';
import { Marked } from 'marked';
import type { TrustedHTML } from 'trusted-types/lib';
import { TRUSTED_TYPES_POLICIES, createPolicy } from './trustedTypes.ts';

const ALLOWED_TAGS = [
  'p', 'br', 'hr', 'strong', 'em', 'del', 'code', 'pre', 'blockquote', 'ul', 'ol', 'li', 'a',
  'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'table', 'thead', 'tbody', 'tr', 'th', 'td', 'span', 'input',
];
const ALLOWED_ATTR = ['href', 'title', 'align', 'class', 'type', 'checked', 'disabled', 'start'];
/** Only web and mail links; anything else (javascript:, data:, vbscript:, blob:) loses its href. */
const SAFE_URL = /^(?:https?:|mailto:|#)/i;

const marked = new Marked({
  gfm: true,
  breaks: true,
  async: false,
  renderer: {
    html({ text }) {
      return escapeHtml(text);
    },
    image({ href, text }) {
      return `<span class="md-image">[image: ${escapeHtml(text || 'no description')}${href ? ` — ${escapeHtml(href)}` : ''}]</span>`;
    },
  },
});

let sanitizing = false;

const policy = createPolicy(TRUSTED_TYPES_POLICIES.markdown, {
  createHTML(html: string) {
    if (!sanitizing) throw new TypeError(`The ${TRUSTED_TYPES_POLICIES.markdown} policy only signs DOMPurify's output.`);
    return html;
  },
  createScript() {
    throw new TypeError('Markdown never makes scripts.');
  },
  createScriptURL() {
    throw new TypeError('Markdown never loads scripts.');
  },
});

let hooksInstalled = false;

function installHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  DOMPurify.addHook('afterSanitizeAttributes', (node) => {
    if (node.tagName === 'A') {
      const href = node.getAttribute('href');
      if (href !== null && !SAFE_URL.test(href.trim())) node.removeAttribute('href');
      node.setAttribute('target', '_blank');
      node.setAttribute('rel', 'noopener noreferrer nofollow');
    }
    // GFM task list checkboxes are the only inputs allowed, and never interactive.
    if (node.tagName === 'INPUT') {
      if (node.getAttribute('type') !== 'checkbox') node.remove();
      else node.setAttribute('disabled', '');
    }
  });
}

/** Sanitized HTML: TrustedHTML where the browser has Trusted Types, a string elsewhere. */
export function renderMarkdown(source: string): TrustedHTML | string {
  installHooks();
  const html = marked.parse(source, { async: false });
  sanitizing = true;
  try {
    return DOMPurify.sanitize(html, {
      ALLOWED_TAGS,
      ALLOWED_ATTR,
      ALLOW_DATA_ATTR: false,
      ALLOW_ARIA_ATTR: false,
      // target/rel are set by the hook after sanitizing attributes.
      ADD_ATTR: ['target', 'rel'],
      // null (no Trusted Types here): DOMPurify must not create a policy of its own.
      TRUSTED_TYPES_POLICY: policy ?? null,
      RETURN_TRUSTED_TYPE: true,
    });
  } finally {
    sanitizing = false;
  }
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);
}
