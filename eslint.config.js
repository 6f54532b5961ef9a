// Lint for every workspace. Type-aware rules catch floating promises: a missed `await` fails silently
// on Workers (the isolate may stop before the promise settles) and loses errors in Node.
import js from '@eslint/js'
import tseslint from 'typescript-eslint'

export default tseslint.config(
  { ignores: ['**/node_modules/**', '.wrangler/**', '**/.cache/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        projectService: { allowDefaultProject: ['eslint.config.js'] },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['eslint.config.js'],
    ...tseslint.configs.disableTypeChecked,
  },
  {
    // The pages' scripts (edge/public, served as they are, no build): browser modules, outside the TypeScript projects.
    files: ['edge/public/**/*.js'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: {
      ...tseslint.configs.disableTypeChecked.languageOptions,
      sourceType: 'module',
      globals: Object.fromEntries(
        ['window', 'document', 'location', 'localStorage', 'navigator', 'fetch', 'console', 'crypto', 'performance', 'setTimeout', 'getSelection', 'URL', 'HTMLElement'].map((name) => [name, 'readonly']),
      ),
    },
  },
  {
    files: ['**/bin/*.js'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly' } },
  },
)
