/** String instructions as iced prints them (not MOVSX/MOVSXD, which share the prefix). */
export const STRING_INSN = /^(?:rep[a-z]* )?(?:movs[bwdq]|stos[bwdq]|ins[bwd]|outs[bwd])\b/;
