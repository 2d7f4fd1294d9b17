/**
 * Markdown for model output and pasted answers: parsed by marked, then sanitized by DOMPurify
 * with an allow-list, on the main thread (DOMPurify needs a DOM).
 *
 * What it guarantees, and the e2e test checks: no script runs (`<script>`, `on*` handlers,
 * `javascript:`/`data:` links), and nothing fetches anything: images, iframes, CSS and forms are
 * not allowed, so text a model writes cannot make the page call a server (a remote image in
 * generated markdown would leak that the page was viewed). Images are shown as their alt text and
 * address. Links open in a new tab without the opener.
 */
import DOMPurify from 'dompurify';
import { Marked } from 'marked';

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
    image({ href, text }) {
      return `<span class="md-image">[image: ${escapeHtml(text || 'no description')}${href ? ` — ${escapeHtml(href)}` : ''}]</span>`;
    },
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

export function renderMarkdown(source: string): string {
  installHooks();
  const html = marked.parse(source, { async: false });
  return DOMPurify.sanitize(html, {
    ALLOWED_TAGS,
    ALLOWED_ATTR,
    ALLOW_DATA_ATTR: false,
    ALLOW_ARIA_ATTR: false,
    // target/rel are set by the hook after sanitizing attributes.
    ADD_ATTR: ['target', 'rel'],
  });
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);
}
