// SPDX-License-Identifier: MIT
/*
 * Example for tdx-audit: a small watchdog driver with the access patterns a TDX
 * guest cares about. Run `npm run audit` to see what each line does under #VE.
 */
#include "acme_io.h"

#define WDT_CTRL	0x00
#define WDT_RELOAD	0x04
#define WDT_STATUS	0x08
#define WDT_CTRL_EN	0x1

struct acme_wdt_regs {
	u32 ctrl;
	u32 reload;
	u32 status;
};

struct acme_wdt {
	void __iomem *base;
	struct acme_wdt_regs __iomem *regs;
	u16 legacy_port;
	u32 timeout;
};

/* The driver's own accessor: its callers are #VE sites too. */
static inline void wdt_write(struct acme_wdt *w, int reg, u32 val)
{
	writel(val, w->base + reg);
}

static void wdt_ping(struct acme_wdt *w)
{
	wdt_write(w, WDT_RELOAD, w->timeout);
}

int acme_wdt_start(struct acme_wdt *w)
{
	wdt_ping(w);
	/* Fine: one MOV store through writel. */
	wdt_write(w, WDT_CTRL, WDT_CTRL_EN);
	return 0;
}

int acme_wdt_stop(struct acme_wdt *w)
{
	/* A struct overlay read-modify-write: gcc emits `and` on memory -> #VE oops. */
	w->regs->ctrl &= ~WDT_CTRL_EN;
	return 0;
}

u32 acme_wdt_status(struct acme_wdt *w)
{
	return readl(w->base + WDT_STATUS);
}

void acme_wdt_load_table(struct acme_wdt *w, const u32 *tbl, unsigned long n)
{
	/* rep movsl on MMIO: handle_mmio rejects MOVS -> oops. */
	__iowrite32_copy(w->base + 0x100, tbl, n);
}

void acme_wdt_legacy_kick(struct acme_wdt *w)
{
	outw(0xa5a5, w->legacy_port);
}
