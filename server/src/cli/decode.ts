// `tdx-audit decode <hex...>`: the rule table asked about single instructions.
// The command still lives beside the decoder (x86/decodeCli.ts, which x86/index.ts
// re-exports and its tests import); this module is where the CLI takes it from, so
// the entry names one module per command.
export { runDecode } from '../x86/decodeCli';

export const DECODE_USAGE = 'tdx-audit decode <hex bytes...> [--profile P] [--format text|json|jsonl]';
