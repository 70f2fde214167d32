// A separate process writing triage decisions (run by test/unit/report/triage-safety.test.ts
// to prove that concurrent writers in two processes lose nothing).
//   node --import tsx triageWriter.ts <root> <prefix> <count>
import { join } from 'node:path';
import { setTriage, triagePathFor, updateTriage } from '../../server/src/audit/report/triage';

async function main(): Promise<void> {
  const [root, prefix, count] = process.argv.slice(2);
  const file = triagePathFor(root!);
  await Promise.all(
    Array.from({ length: Number(count) }, (_, i) =>
      updateTriage(file, (t) => setTriage(t, `${prefix}${i}`, 'safe', { comment: `${prefix} ${i}` }), { root: root!, create: true }),
    ),
  );
  process.stdout.write(`ok ${join(root!, '.tdx-audit')}\n`);
}
main().catch((e) => {
  process.stderr.write(String(e?.stack ?? e));
  process.exit(1);
});
