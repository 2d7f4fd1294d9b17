/**
 * A strict JSON parser that remembers where things are. `JSON.parse` tells neither the line each array element
 * starts on (which import issues cite) nor, portably, where a syntax error is (every engine words and places it
 * differently). This recursive-descent parser yields the values `JSON.parse` would, plus those positions.
 *
 * Nesting is bounded (MAX_JSON_DEPTH, serde_json's default limit): deeper text is refused as a failure like a
 * syntax error, so neither this recursion nor anything that later walks the value (JSON.stringify, structured
 * clone) can overflow the stack on a hostile or broken file.
 */

/** Arrays and objects inside each other; a pair file needs about five. */
export const MAX_JSON_DEPTH = 128;

export type JsonParseResult =
  | {
      ok: true;
      value: unknown;
      /** For each array in the value: the 1-based line on which each of its elements starts. */
      elementLines: WeakMap<readonly unknown[], number[]>;
    }
  | { ok: false; line: number; column: number; message: string; reason: 'syntax' | 'depth' };

export function parseJsonWithLines(text: string): JsonParseResult {
  const parser = new JsonParser(text);
  try {
    return { ok: true, value: parser.parseDocument(), elementLines: parser.elementLines };
  } catch (error) {
    if (!(error instanceof JsonSyntaxError)) throw error;
    return { ok: false, line: error.line, column: error.column, message: error.message, reason: error.reason };
  }
}

class JsonSyntaxError extends Error {
  constructor(
    message: string,
    readonly line: number,
    readonly column: number,
    readonly reason: 'syntax' | 'depth' = 'syntax',
  ) {
    super(message);
  }
}

const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
/** A run of string characters that need no attention: not a quote, a backslash or a control character. */
// eslint-disable-next-line no-control-regex -- JSON forbids raw control characters in strings; this finds them.
const PLAIN_STRING_RUN = /[^"\\\u0000-\u001f]*/y;
const HEX4 = /[0-9a-fA-F]{4}/y;
const SIMPLE_ESCAPES = new Set(['"', '\\', '/', 'b', 'f', 'n', 'r', 't']);

class JsonParser {
  readonly elementLines = new WeakMap<readonly unknown[], number[]>();
  private position = 0;
  private line = 1;
  private lineStart = 0;
  private depth = 0;

  constructor(private readonly text: string) {}

  parseDocument(): unknown {
    this.skipWhitespace();
    const value = this.parseValue();
    this.skipWhitespace();
    if (this.position < this.text.length) this.fail('expected the end of the document after the value');
    return value;
  }

  private parseValue(): unknown {
    const char = this.text[this.position];
    if (char === '{' || char === '[') {
      if (this.depth === MAX_JSON_DEPTH) {
        throw new JsonSyntaxError(`nested deeper than ${MAX_JSON_DEPTH} levels of arrays and objects`, this.line, this.position - this.lineStart + 1, 'depth');
      }
      this.depth++;
      const value = char === '{' ? this.parseObject() : this.parseArray();
      this.depth--;
      return value;
    }
    if (char === '"') return this.parseString();
    if (char === 't') return this.parseLiteral('true', true);
    if (char === 'f') return this.parseLiteral('false', false);
    if (char === 'n') return this.parseLiteral('null', null);
    if (char === '-' || (char !== undefined && char >= '0' && char <= '9')) return this.parseNumber();
    this.fail('expected a value');
  }

  private parseObject(): Record<string, unknown> {
    const entries: [string, unknown][] = [];
    this.position++;
    this.skipWhitespace();
    if (this.text[this.position] === '}') {
      this.position++;
      return {};
    }
    for (;;) {
      if (this.text[this.position] !== '"') this.fail('expected a property name in double quotes');
      const key = this.parseString();
      this.skipWhitespace();
      this.expect(':', "expected ':' after the property name");
      this.skipWhitespace();
      entries.push([key, this.parseValue()]);
      this.skipWhitespace();
      if (this.text[this.position] === '}') {
        this.position++;
        // fromEntries defines own properties, so a "__proto__" key stays data, as with JSON.parse.
        return Object.fromEntries(entries);
      }
      this.expect(',', "expected ',' or '}' after a property value");
      this.skipWhitespace();
    }
  }

  private parseArray(): unknown[] {
    const items: unknown[] = [];
    const lines: number[] = [];
    this.elementLines.set(items, lines);
    this.position++;
    this.skipWhitespace();
    if (this.text[this.position] === ']') {
      this.position++;
      return items;
    }
    for (;;) {
      lines.push(this.line);
      items.push(this.parseValue());
      this.skipWhitespace();
      if (this.text[this.position] === ']') {
        this.position++;
        return items;
      }
      this.expect(',', "expected ',' or ']' after an array element");
      this.skipWhitespace();
    }
  }

  private parseString(): string {
    const start = this.position;
    let escaped = false;
    this.position++;
    for (;;) {
      PLAIN_STRING_RUN.lastIndex = this.position;
      PLAIN_STRING_RUN.test(this.text);
      this.position = PLAIN_STRING_RUN.lastIndex;
      const char = this.text[this.position];
      if (char === '"') break;
      if (char !== '\\') this.fail('expected a closing double quote (line breaks and other control characters must be escaped)');
      escaped = true;
      this.position++;
      const escape = this.text[this.position];
      if (escape === 'u') {
        HEX4.lastIndex = this.position + 1;
        if (!HEX4.test(this.text)) this.fail('expected four hex digits after \\u');
        this.position += 5;
      } else if (escape !== undefined && SIMPLE_ESCAPES.has(escape)) {
        this.position++;
      } else {
        this.fail('expected an escape sequence (\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX)');
      }
    }
    this.position++;
    // The escapes were validated above, so JSON.parse cannot fail here; it only decodes them.
    return escaped ? (JSON.parse(this.text.slice(start, this.position)) as string) : this.text.slice(start + 1, this.position - 1);
  }

  private parseNumber(): number {
    NUMBER.lastIndex = this.position;
    const match = NUMBER.exec(this.text);
    if (match === null) this.fail('expected a number');
    this.position += match[0].length;
    return Number(match[0]);
  }

  private parseLiteral<Value>(word: string, value: Value): Value {
    if (!this.text.startsWith(word, this.position)) this.fail('expected a value');
    this.position += word.length;
    return value;
  }

  private expect(char: string, message: string): void {
    if (this.text[this.position] !== char) this.fail(message);
    this.position++;
  }

  private skipWhitespace(): void {
    for (;;) {
      const char = this.text[this.position];
      if (char === '\n') {
        this.line++;
        this.lineStart = this.position + 1;
      } else if (char !== ' ' && char !== '\t' && char !== '\r') {
        return;
      }
      this.position++;
    }
  }

  private fail(expected: string): never {
    const char = this.text[this.position];
    const got = char === undefined ? 'the end of the text' : JSON.stringify(char);
    throw new JsonSyntaxError(`${expected}, got ${got}`, this.line, this.position - this.lineStart + 1);
  }
}
