/* SPDX-License-Identifier: Apache-2.0 */
#ifndef ARKVM_CPU_TOPOLOGY_H
#define ARKVM_CPU_TOPOLOGY_H

#include <stdbool.h>

#include "compiler.h"
#include "vm_config.h"

/*
 * Where a vCPU sits in a --cpus topology, and the MPIDR_EL1 that says so.
 * vCPU i counts threads fastest, then cores, clusters and sockets.
 *
 * MPIDR: with more than one thread per core, Aff0 is the thread, Aff1 the
 * core, Aff2 the cluster, Aff3 the socket, and MT (bit 24) is set, as
 * cores with SMT report; with one thread, Aff0 is the core, Aff1 the
 * cluster, Aff2 the socket, MT clear.  Bit 31 is RES1.  Linux takes the
 * topology from the device tree's cpu-map; the MPIDR agrees with it, and
 * its Aff0 stays below 16 so that a GICv3 SGI can reach every CPU.
 */
struct cpu_place {
	unsigned int socket, cluster, core, thread;
};

#define MPIDR_RES1 (1ULL << 31)
#define MPIDR_MT   (1ULL << 24)

/* Whether the config gives a topology (else KVM's own MPIDRs, and no cpu-map). */
static inline bool cpu_topology_given(const struct cpu_topology_config *t)
{
	return t->sockets != 0;
}

void cpu_topology_place(const struct cpu_topology_config *t, unsigned int idx,
			struct cpu_place *p);
u64 cpu_topology_mpidr(const struct cpu_topology_config *t, unsigned int idx);

#endif
