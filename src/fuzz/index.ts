/**
 * Property-based fuzzing of the model (and of your own VMM logic on top of
 * it): event-template arbitraries for every event kind, the fast-check
 * model-based fuzz loop with every invariant on, and failure reports.
 *
 *   import { fuzz, eventTemplates, resolve } from 'iorewind/dist/src/fuzz/index.js';
 *   const r = fuzz({ seed: 1, runs: 200 });       // r.failure: the shrunk counterexample
 */
export { eventTemplates, templateArbitraries, EVENT_KINDS, KNOWN_MODEL_BUGS, GUEST_VA, GUEST_STRIDE, GUEST_REGION, type Bias, type OpArbitrary } from './arbitraries.js';
export { resolve, resolveNext, constructorFor, showTemplate, newModel, learn, type Template, type Sym, type SymBuf, type SymFields, type FuzzModel, type IdKind } from './template.js';
export { fuzz, checkEvents, setupEvents, realModel, MODEL_CRASH, MAX_CHAIN, type FuzzOptions, type FuzzResult, type FuzzFailure, type FuzzProgress, type ModelApi } from './run.js';
export { choice, ChoiceArbitrary, Draw, type Builder } from './choice.js';
export { writeFailure, reportText, type WrittenFailure } from './report.js';
