/* SPDX-License-Identifier: MIT */
/*
 * A user-space mmiotrace for tdx-audit's tests (written for tdx-audit; the idea is
 * the kernel's kmmio): a "BAR" of a few pages mapped PROT_NONE; every access to it
 * faults; the SIGSEGV handler records the faulting RIP and the offset in the BAR,
 * opens the pages and sets the trap flag; the SIGTRAP after that one instruction
 * closes them again. So each instruction that touches the BAR is recorded, whatever
 * the compiler made of the source: which is the ground truth the analysis is
 * compared with. Output on stdout at exit: "rip offset" per access, hex.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>

#define BAR_BYTES (4 * 4096)
#define MAX_RECORDS 65536

static uint8_t *bar;
static unsigned long long rips[MAX_RECORDS], offs[MAX_RECORDS];
static unsigned int n;

static void on_segv(int sig, siginfo_t *si, void *ctx)
{
	ucontext_t *uc = ctx;
	uintptr_t a = (uintptr_t)si->si_addr;
	(void)sig;
	if (a < (uintptr_t)bar || a >= (uintptr_t)bar + BAR_BYTES) {
		/* A real crash: let it be one. */
		signal(SIGSEGV, SIG_DFL);
		return;
	}
	if (n < MAX_RECORDS) {
		rips[n] = (unsigned long long)uc->uc_mcontext.gregs[REG_RIP];
		offs[n] = (unsigned long long)(a - (uintptr_t)bar);
		n++;
	}
	mprotect(bar, BAR_BYTES, PROT_READ | PROT_WRITE);
	uc->uc_mcontext.gregs[REG_EFL] |= 0x100; /* TF: trap after this instruction */
}

static void on_trap(int sig, siginfo_t *si, void *ctx)
{
	ucontext_t *uc = ctx;
	(void)sig;
	(void)si;
	mprotect(bar, BAR_BYTES, PROT_NONE);
	uc->uc_mcontext.gregs[REG_EFL] &= ~0x100ULL;
}

/* The fixture's "ioremap": a place in the BAR. */
void *tracer_bar(unsigned long offset)
{
	return bar + offset;
}

void dyn_run(void);

int main(void)
{
	struct sigaction sa;
	bar = mmap(NULL, BAR_BYTES, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (bar == MAP_FAILED)
		return 2;
	memset(&sa, 0, sizeof(sa));
	sa.sa_flags = SA_SIGINFO;
	sa.sa_sigaction = on_segv;
	sigaction(SIGSEGV, &sa, NULL);
	sa.sa_sigaction = on_trap;
	sigaction(SIGTRAP, &sa, NULL);
	dyn_run();
	for (unsigned int i = 0; i < n; i++)
		printf("%llx %llx\n", rips[i], offs[i]);
	return 0;
}
