/* SPDX-License-Identifier: Apache-2.0 */
#ifndef ARKVM_ARM64_LAYOUT_H
#define ARKVM_ARM64_LAYOUT_H

/*
 * The guest physical memory map, the only place it is written down.
 *
 *   0x0000_0000 +--------------------------------+
 *               | unmapped (guest accesses exit  |
 *               | to the MMIO bus and read 0)    |
 *   0x0800_0000 +--------------------------------+
 *               | GICv3 distributor        64 KiB|  or the GICv2's (4 KiB)
 *   0x0801_0000 +--------------------------------+
 *               | unmapped                       |  or the GICv2's CPU
 *               |                                |  interface (8 KiB)
 *   0x080a_0000 +--------------------------------+
 *               | GICv3 redistributors           |
 *               | 128 KiB per vCPU, 123 vCPUs max|
 *   0x0900_0000 +--------------------------------+
 *               | 16550A UART               4 KiB|  SPI 32 (GSI 0)
 *   0x0900_1000 +--------------------------------+
 *               | unmapped                       |
 *   0x0901_0000 +--------------------------------+
 *               | boot timer (--boot-timer) 4 KiB|
 *   0x0901_1000 +--------------------------------+
 *               | unmapped                       |
 *   0x0902_0000 +--------------------------------+
 *               | PL031 RTC                 4 KiB|  SPI 33 (GSI 1)
 *   0x0902_1000 +--------------------------------+
 *   0x090a_0000 +--------------------------------+
 *               | stolen time (steal-time=on):   |  RAM, not the guest's:
 *               | 64 bytes per vCPU, in whole    |  found through SMCCC,
 *               | host pages, 64 KiB at most     |  not the device tree
 *   0x090b_0000 +--------------------------------+
 *               | unmapped                       |
 *   0x0a00_0000 +--------------------------------+
 *               | virtio-mmio slots, 4 KiB each, |  SPI 48 + slot
 *               | 32 slots                       |
 *   0x0a02_0000 +--------------------------------+
 *               | unmapped                       |
 *   0x8000_0000 +--------------------------------+  RAM_BASE (2 GiB)
 *               | kernel Image at RAM_BASE +     |
 *               |   text_offset (2 MiB aligned)  |
 *               | initrd, page aligned, after    |
 *               |   the kernel's image_size      |
 *               | device tree, after the initrd  |
 *               | ...free RAM...                 |
 *               | (last 2 MiB: never an image,   |
 *               |   so the device tree fits)     |
 *               +--------------------------------+  RAM_BASE + memory
 *
 * RAM starts at 2 GiB as on kvmtool and Firecracker, so everything below
 * it is MMIO and RAM can grow upwards as far as the host's IPA size allows.
 */

#define ARM64_GICD_BASE        0x08000000ULL
#define ARM64_GICD_SIZE        0x00010000ULL
#define ARM64_GICR_BASE        0x080a0000ULL
#define ARM64_GICR_SIZE        0x00f60000ULL
#define ARM64_GICR_STRIDE      0x00020000ULL /* RD_base + SGI_base frames */
#define ARM64_GICR_MAX_VCPUS   (ARM64_GICR_SIZE / ARM64_GICR_STRIDE)

/*
 * A GICv2 (--irqchip, hosts without a GICv3) in the GICv3's place: only
 * one of them exists.  KVM maps the host's virtual CPU interface into the
 * guest at GICC_BASE, which must then be aligned to the host's pages: 64
 * KiB covers 4K, 16K and 64K hosts.
 */
#define ARM64_GICV2_DIST_BASE  ARM64_GICD_BASE
#define ARM64_GICV2_DIST_SIZE  0x00001000ULL
#define ARM64_GICC_BASE        0x08010000ULL
#define ARM64_GICC_SIZE        0x00002000ULL
#define ARM64_GICV2_MAX_VCPUS  8   /* the CPU target fields are 8 bits wide */

#define ARM64_UART_BASE        0x09000000ULL
#define ARM64_UART_SIZE        0x00001000ULL

/* The boot timer (--boot-timer): the guest's init writes 123 here. */
#define ARM64_BOOT_TIMER_BASE  0x09010000ULL
#define ARM64_BOOT_TIMER_SIZE  0x00001000ULL

/* The PL031 real-time clock: the guest's time of day. */
#define ARM64_RTC_BASE         0x09020000ULL
#define ARM64_RTC_SIZE         0x00001000ULL
/*
 * Paravirtual stolen time: KVM writes each vCPU's in its 64 bytes here.
 * A memory slot of its own, so it starts on a boundary of the largest
 * host page (64 KiB) and holds 123 vCPUs' in one such page.
 */
#define ARM64_PVTIME_BASE      0x090a0000ULL
#define ARM64_PVTIME_SIZE      0x00010000ULL
#define ARM64_PVTIME_STRIDE    64
#define ARM64_PVTIME_SLOT      1   /* KVM memory slot; guest RAM is 0 */

#define ARM64_VIRTIO_BASE      0x0a000000ULL
#define ARM64_VIRTIO_SLOT_SIZE 0x00001000ULL
#define ARM64_VIRTIO_SLOTS     32

#define ARM64_RAM_BASE         0x80000000ULL

/* The DTB is at most 2 MiB (booting.rst); images leave the last 2 MiB for it. */
#define ARM64_FDT_MAX_SIZE     0x00200000ULL

/* Interrupt IDs (INTIDs).  SPIs start at 32; irqfd GSIs are INTID - 32. */
#define ARM64_SPI_BASE         32
#define ARM64_UART_IRQ         32
#define ARM64_RTC_IRQ          33
#define ARM64_VIRTIO_IRQ_BASE  48
#define ARM64_NR_IRQS          128 /* 32 private + 96 SPIs, multiple of 32 */

/* Architected timer PPIs, as PPI numbers (INTID - 16). */
#define ARM64_TIMER_PPI_SEC_PHYS    13
#define ARM64_TIMER_PPI_NONSEC_PHYS 14
#define ARM64_TIMER_PPI_VIRT        11
#define ARM64_TIMER_PPI_HYP         10
/* The PMUv3's overflow interrupt: PPI 7 (INTID 23), as QEMU and kvmtool use. */
#define ARM64_PMU_PPI               7

#endif
