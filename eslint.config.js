import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/**
 * The layers of DESIGN.md ("Layers"), top to bottom: a file may import only from its own
 * layer or below. backup, dr and continuity share a level but are not free to import each
 * other: the DR executor restores through the backup service (dr → backup) and continuity
 * reads the evidence both record (continuity → dr, backup); nothing imports the other way.
 */
const LAYERS = ['cli', 'server', 'api', ['backup', 'dr', 'continuity'], 'report', 'scheduling', 'runtime', 'sources', 'repo', 'storage', 'catalog', 'config', 'core'];
const SIBLINGS_ALLOWED = { backup: [], dr: ['backup'], continuity: ['dr', 'backup'] };

/** Each layer with the layers it must not import: every one above it, and its forbidden siblings. */
function forbiddenByLayer() {
  const result = [];
  LAYERS.forEach((level, i) => {
    const above = LAYERS.slice(0, i).flat();
    for (const layer of [level].flat()) {
      const siblings = Array.isArray(level) ? level.filter((s) => s !== layer && !SIBLINGS_ALLOWED[layer].includes(s)) : [];
      const allowed = [layer, ...(SIBLINGS_ALLOWED[layer] ?? []), ...LAYERS.slice(i + 1).flat()];
      result.push({ layer, forbidden: [...above, ...siblings], allowed });
    }
  });
  return result;
}

/**
 * An import specifier that reaches into src/<layer>/ by a relative path ('../repo/x.js',
 * '../../cli/main.js', './api/backup.js' from src/index.ts). It reads the specifier, not the
 * resolved file: a subfolder named like a higher layer (src/backup/report/) would be misread.
 */
const reaching = (layer) => `^\\.{1,2}/(?:\\.\\./)*${layer}/`;

const message = (where, target, allowed) => `layer rule (DESIGN.md, Layers): ${where} must not import from src/${target}/; it may import only from ${allowed.join(', ')}`;

/** no-restricted-imports covers import/export declarations, no-restricted-syntax the import() expressions. */
function layerRules(where, forbidden, allowed) {
  return {
    'no-restricted-imports': ['error', { patterns: forbidden.map((target) => ({ regex: reaching(target), caseSensitive: true, message: message(where, target, allowed) })) }],
    'no-restricted-syntax': [
      'error',
      // esquery regexes cannot hold a '/', hence \x2F.
      ...forbidden.map((target) => ({ selector: `ImportExpression[source.value=/${reaching(target).replaceAll('/', '\\x2F')}/]`, message: message(where, target, allowed) })),
    ],
  };
}

const layerConfigs = [
  ...forbiddenByLayer()
    .filter(({ forbidden }) => forbidden.length > 0)
    .map(({ layer, forbidden, allowed }) => ({ files: [`src/${layer}/**/*.ts`], rules: layerRules(`src/${layer}/`, forbidden, allowed) })),
  // The package entry point is the library facade: the level of src/api/.
  { files: ['src/index.ts'], rules: layerRules('src/index.ts', ['cli', 'server'], ['api and the layers below it']) },
];

export default tseslint.config(
  // '**/dist/**': an example's own build output (examples/*/dist) is generated too.
  { ignores: ['backup.config.ts', '**/dist/**', 'node_modules/**', 'build/**', 'coverage/**', 'completions/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', URL: 'readonly' },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-constant-condition': ['error', { checkLoops: false }],
    },
  },
  ...layerConfigs,
);
