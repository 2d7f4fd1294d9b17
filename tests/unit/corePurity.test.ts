/**
 * src/core runs in the page, the worker and Node, so it may not touch the DOM, Node built-ins
 * or packages that need either. ESLint forbids the same; this test fails even if the lint
 * config drifts, and it pins which packages the core may import.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../support/runCli.ts';

const CORE = join(PROJECT_ROOT, 'src', 'core');
const ALLOWED_PACKAGES = new Set(['zod', '@huggingface/jinja', 'papaparse', 'pure-rand', 'stemmer', 'ml-kmeans']);
const FORBIDDEN_GLOBALS = ['window', 'document', 'navigator', 'localStorage', 'indexedDB', 'process', 'Buffer', 'require', '__dirname'];

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? sourceFiles(join(dir, entry.name)) : entry.name.endsWith('.ts') ? [join(dir, entry.name)] : [],
  );
}

/** Module specifiers of static imports/exports and dynamic imports, read from the syntax tree. */
function importedSpecifiers(source: ts.SourceFile): string[] {
  const specifiers: string[] = [];
  const visit = (node: ts.Node) => {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      specifiers.push(node.moduleSpecifier.text);
    }
    if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword && node.arguments[0] && ts.isStringLiteral(node.arguments[0])) {
      specifiers.push(node.arguments[0].text);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return specifiers;
}

/** Forbidden globals referenced as free identifiers: not declared in the file, not a property name. */
function forbiddenGlobals(source: ts.SourceFile): string[] {
  const declared = new Set<string>();
  const used: string[] = [];
  const visit = (node: ts.Node) => {
    const named = node as ts.Node & { name?: ts.Node };
    if (
      (ts.isVariableDeclaration(node) || ts.isParameter(node) || ts.isFunctionDeclaration(node) || ts.isClassDeclaration(node) || ts.isImportSpecifier(node) || ts.isBindingElement(node)) &&
      named.name &&
      ts.isIdentifier(named.name)
    ) {
      declared.add(named.name.text);
    }
    if (ts.isIdentifier(node) && FORBIDDEN_GLOBALS.includes(node.text)) {
      const parent = node.parent;
      const isPropertyName =
        (ts.isPropertyAccessExpression(parent) && parent.name === node) ||
        ((ts.isPropertyAssignment(parent) || ts.isPropertySignature(parent) || ts.isMethodDeclaration(parent) || ts.isPropertyDeclaration(parent)) && parent.name === node);
      if (!isPropertyName) used.push(node.text);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return used.filter((name) => !declared.has(name));
}

function isInside(folder: string, path: string): boolean {
  const fromFolder = relative(folder, path);
  return fromFolder !== '' && !fromFolder.startsWith('..') && !fromFolder.startsWith('/');
}

function parse(file: string, text = readFileSync(file, 'utf8')): ts.SourceFile {
  return ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
}

describe('src/core purity', () => {
  const files = sourceFiles(CORE);

  it('finds the core sources', () => {
    expect(files.length).toBeGreaterThan(10);
  });

  it.each(files.map((file) => [relative(PROJECT_ROOT, file), file]))('%s imports only core modules and allowed packages', (_name, file) => {
    for (const specifier of importedSpecifiers(parse(file))) {
      if (specifier.startsWith('.')) {
        expect(isInside(CORE, resolve(dirname(file), specifier)), `${specifier} leaves src/core`).toBe(true);
        continue;
      }
      const packageName = specifier.startsWith('@') ? specifier.split('/').slice(0, 2).join('/') : (specifier.split('/')[0] as string);
      expect(specifier.startsWith('node:') || builtinModules.includes(packageName), `${specifier} is a Node built-in`).toBe(false);
      expect(ALLOWED_PACKAGES.has(packageName), `${packageName} is not an allowed core dependency`).toBe(true);
    }
  });

  it.each(files.map((file) => [relative(PROJECT_ROOT, file), file]))('%s uses no DOM or Node globals', (_name, file) => {
    expect(forbiddenGlobals(parse(file))).toEqual([]);
  });

  it('would catch a violation', () => {
    expect(isInside(CORE, resolve(CORE, 'eval', '../schema.ts'))).toBe(true);
    expect(isInside(CORE, resolve(CORE, 'eval', '../../engines/openai.ts'))).toBe(false);
    expect(isInside(CORE, resolve(CORE, '../core-extra/x.ts'))).toBe(false);
    expect(importedSpecifiers(parse('a.ts', "import { readFile } from 'node:fs'; const m = import('os');"))).toEqual(['node:fs', 'os']);
    expect(forbiddenGlobals(parse('a.ts', 'const t = document.title; // window'))).toEqual(['document']);
    expect(forbiddenGlobals(parse('a.ts', "const document = 1; const o = { window: 2 }; o.window; const s = 'process';"))).toEqual([]);
  });
});
