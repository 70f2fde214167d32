// Which arguments of a workspace's compile command we pass to the compiler. The
// command comes from compile_commands.json, which the workspace controls; we run it
// to get an object with the same code generation, and it must write nothing but
// that object (into our temp dir). So arguments are allowed by kind: what selects
// the code (defines, include paths, -f/-m code-generation flags, -std, -O, -g, -W
// warnings, -x) passes; what names outputs or writes side files is dropped, each
// with its reason, which the caller shows.
//
// gcc options that write files, and why each is here (gcc 12 manual, "Option Summary"):
//   -o, -M* dependency output          our -o replaces the first; the rest write .d files
//   -save-temps[=cwd|obj], -dumpdir,   write .i/.s/dump files next to the object or in the cwd
//   -dumpbase, -dumpbase-ext
//   -fdump-*, -fstack-usage, -fcallgraph-info, -fprofile-*/-fbranch-probabilities,
//   -ftest-coverage, -fsave-optimization-record, -fopt-info, -fcompare-debug*,
//   -fdiagnostics-format=*-file, -frecord-gcc-switches is harmless (a section)
//   -aux-info FILE                     writes prototypes to FILE
//   -Wa,-a*=FILE, -Wa,--MD FILE        assembler listings / dependencies
//   -Wl,*, -Xlinker                    link options (never used with -c)
//   -Xassembler, -Xpreprocessor        pass arbitrary options past this filter
//   @file                              reads more options past this filter
//   -specs=, -wrapper, -B              change which programs run and how
//   -flto*                             the object would hold GIMPLE, not code

export interface FilteredArgv {
  argv: string[];
  /** Arguments left out, with why (shown in the compile's output). */
  dropped: { arg: string; why: string }[];
}

/** Options whose value is the next argument when not attached. */
const TAKES_VALUE = new Set(['-I', '-D', '-U', '-include', '-imacros', '-isystem', '-iquote', '-idirafter', '-iprefix', '-iwithprefix', '-x', '--param', '-o', '-MF', '-MT', '-MQ', '-aux-info', '-dumpdir', '-dumpbase', '-dumpbase-ext', '-Xassembler', '-Xlinker', '-Xpreprocessor', '-B', '-wrapper', '-specs', '-isysroot', '--sysroot', '-L', '-l', '-T', '-u', '-z']);

/** -f flags that write files or change what the object is. */
const F_DENY = /^-f(?:no-)?(?:dump-|stack-usage|callgraph-info|profile-(?:generate|arcs|dir|note|prefix-path|info-section|abs-path|use|update|exclude-files|filter-files|reproducible|partial-training)|branch-probabilities|test-coverage|save-optimization-record|opt-info|compare-debug|lto|fat-lto-objects|auto-profile|condition-coverage|path-coverage)/;
/** Assembler options (-Wa,...) that only select code: anything else (listings -a*, --MD) is dropped. */
const WA_ALLOW = /^(?:--?gdwarf(?:-\d+|sections)?|--?gdwarf2|--noexecstack|-mx86-used-note=(?:yes|no)|-mrelax-relocations=(?:yes|no)|--64|--32|-64|-32|--fatal-warnings|-W|--no-warn|--(?:no)?compress-debug-sections(?:=\w+)?|-msse2avx|-mtune=[\w.+-]+|-march=[\w.+-]+)$/;

function why(arg: string): string | undefined {
  if (arg.startsWith('@')) return 'response files would pass options this filter never sees';
  if (/^-(?:save-temps|dumpdir|dumpbase|aux-info)/.test(arg)) return 'writes files outside the temp dir';
  if (/^-M(?:D|MD|F|T|Q|M|G|P)?$/.test(arg) || /^-M[FTQ]./.test(arg)) return 'dependency output';
  if (/^-Wp,-M/.test(arg)) return 'dependency output';
  if (/^-Wl,/.test(arg) || arg === '-Xlinker' || arg.startsWith('-Xlinker')) return 'link option (the compile stops at -c)';
  if (arg === '-Xassembler' || arg === '-Xpreprocessor') return 'passes an unchecked option to another program';
  if (/^-(?:specs|wrapper|B)/.test(arg) || /^--(?:specs|sysroot-suffix)/.test(arg)) return 'changes which programs the driver runs';
  if (F_DENY.test(arg)) return 'writes side files or changes what the object holds';
  if (/^-fdiagnostics-format=.*file/.test(arg)) return 'writes diagnostics to a file';
  if (arg.startsWith('-Wa,')) {
    const bad = arg.slice(4).split(',').find((p) => !WA_ALLOW.test(p));
    return bad === undefined ? undefined : `assembler option ${bad} may write a file (listings, dependencies)`;
  }
  if (arg.startsWith('-Wp,')) {
    const bad = arg.slice(4).split(',').find((p) => !/^-[DUI]/.test(p));
    return bad === undefined ? undefined : `preprocessor option ${bad} is not a define or include path`;
  }
  if (arg === '-o' || arg.startsWith('-o')) return 'the output is ours (a temp dir)';
  if (/^-[lLTuz]/.test(arg) || /^-(?:shared|static|pie|no-pie|rdynamic|nostartfiles|nodefaultlibs|nostdlib)$/.test(arg)) return 'link option (the compile stops at -c)';
  return undefined;
}

function allowedKind(arg: string): boolean {
  return (
    /^-[DUI]./.test(arg) ||
    /^-(?:include|imacros|isystem|iquote|idirafter|iprefix|iwithprefix|isysroot)$/.test(arg) ||
    /^-(?:isystem|iquote|idirafter|include|imacros).+/.test(arg) ||
    /^-nostdinc(?:\+\+)?$/.test(arg) ||
    /^-f[\w+=.,:/-]+$/.test(arg) ||
    /^-m[\w+=.,-]+$/.test(arg) ||
    /^-std=[\w+]+$/.test(arg) ||
    /^-ansi$|^-pedantic(?:-errors)?$|^-w$|^-pipe$|^-c$|^-v$/.test(arg) ||
    /^-W[\w+=.-]*$/.test(arg) ||
    /^-Wa,|^-Wp,/.test(arg) ||
    /^-O[0-3sgzf]?(?:ast)?$/.test(arg) ||
    /^-g[\w-]*$/.test(arg) ||
    /^-x$|^-x\w/.test(arg) ||
    /^--param=?/.test(arg) ||
    /^--sysroot=?/.test(arg)
  );
}

/**
 * The compile command's arguments (argv[0] is the compiler) for compiling `source`
 * only: options by kind, the source itself, nothing else.
 */
export function filterCompileArgs(argv: readonly string[], isSource: (arg: string) => boolean): FilteredArgv {
  const out: string[] = [argv[0]!];
  const dropped: FilteredArgv['dropped'] = [];
  for (let i = 1; i < argv.length; i++) {
    const a = argv[i]!;
    const hasValue = TAKES_VALUE.has(a) && i + 1 < argv.length;
    const value = hasValue ? argv[i + 1]! : undefined;
    const shown = value === undefined ? a : `${a} ${value}`;
    if (!a.startsWith('-') || a === '-') {
      if (isSource(a)) out.push(a);
      else dropped.push({ arg: a, why: 'another input file' });
      continue;
    }
    const bad = why(a);
    if (bad) {
      dropped.push({ arg: shown, why: bad });
      if (hasValue) i++;
      continue;
    }
    if (!allowedKind(a)) {
      dropped.push({ arg: shown, why: 'not an option kind that selects code generation' });
      if (hasValue) i++;
      continue;
    }
    out.push(a);
    if (hasValue) {
      out.push(value!);
      i++;
    }
  }
  return { argv: out, dropped };
}
