/* SPDX-License-Identifier: MIT */
/*
 * Example for tdx-audit: a stand-in for <linux/io.h> with the x86 accessor
 * shapes (one MOV through a register), so the example builds with plain gcc.
 */
#ifndef ACME_IO_H
#define ACME_IO_H

typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;

#define __iomem
#define __force

static inline u32 readl(const volatile void __iomem *addr)
{
	u32 v;
	asm volatile("movl %1,%0" : "=r"(v) : "m"(*(volatile u32 __force *)addr) : "memory");
	return v;
}

static inline void writel(u32 v, volatile void __iomem *addr)
{
	asm volatile("movl %0,%1" : : "r"(v), "m"(*(volatile u32 __force *)addr) : "memory");
}

static inline void outw(u16 v, u16 port)
{
	asm volatile("outw %w0, %w1" : : "a"(v), "Nd"(port));
}

void __iowrite32_copy(void __iomem *to, const void *from, unsigned long count);

#endif
