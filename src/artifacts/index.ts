/**
 * The run files, each a versioned, typed write/parse pair shared by the CLI (which writes them) and
 * the report (which reads them).
 */
export * from './fields.js';
export * from './eval.js';
export * from './audit.js';
export * from './train.js';
export * from './model.js';
export * from './demo.js';
export * from './detect-eval.js';
export * from './outputs.js';
export * from './compare.js';
export * from './quick-audit.js';
