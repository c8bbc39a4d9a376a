// typescript-eslint's strict rules over the TypeScript sources (see package.json "lint").
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config({ ignores: ['dist/**', 'node_modules/**', 'test/unit/fixtures/**'] }, js.configs.recommended, ...tseslint.configs.strict, {
  rules: {
    // Map lookups right after a has()/set(), regex groups that the pattern guarantees: the checker
    // cannot see it, and a runtime "undefined" would be a bug the tests catch anyway.
    '@typescript-eslint/no-non-null-assertion': 'off',
    '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    // Matching terminal escapes (colour) and refusing control characters in names is the point there.
    'no-control-regex': 'off',
  },
});
