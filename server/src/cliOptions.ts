// Moved to cli/options.ts; kept so audit/report/build.ts (owned elsewhere) and older
// imports still resolve. New code imports ./cli/options.
export * from './cli/options';
