/**
 * The slice of papaparse's API the core uses, declared without Node types. @types/papaparse
 * references Node's types, which would let `process` or `Buffer` type-check in the pure core;
 * tsconfig.core.json maps `papaparse` here so the core type-check keeps proving purity.
 */
declare module 'papaparse' {
  export interface ParseError {
    type: 'Quotes' | 'Delimiter' | 'FieldMismatch';
    code: string;
    message: string;
    row?: number;
  }
  export interface ParseMeta {
    cursor: number;
  }
  export interface ParseStepResult<T> {
    data: T;
    errors: ParseError[];
    meta: ParseMeta;
  }
  export interface Parser {
    abort(): void;
  }
  export interface ParseConfig<T> {
    delimiter?: string;
    step?: (result: ParseStepResult<T>, parser: Parser) => void;
  }
  export interface UnparseConfig {
    newline?: string;
  }
  const Papa: {
    parse<T>(input: string, config: ParseConfig<T>): void;
    unparse(data: { fields: string[]; data: unknown[][] }, config?: UnparseConfig): string;
  };
  export default Papa;
}
