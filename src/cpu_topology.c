// SPDX-License-Identifier: Apache-2.0
#include "cpu_topology.h"

void cpu_topology_place(const struct cpu_topology_config *t, unsigned int idx,
			struct cpu_place *p)
{
	p->thread = idx % t->threads;
	idx /= t->threads;
	p->core = idx % t->cores;
	idx /= t->cores;
	p->cluster = idx % t->clusters;
	p->socket = idx / t->clusters;
}

u64 cpu_topology_mpidr(const struct cpu_topology_config *t, unsigned int idx)
{
	struct cpu_place p;

	cpu_topology_place(t, idx, &p);
	if (t->threads > 1)
		return MPIDR_RES1 | MPIDR_MT | (u64)p.socket << 32 | (u64)p.cluster << 16 |
		       (u64)p.core << 8 | p.thread;
	return MPIDR_RES1 | (u64)p.socket << 16 | (u64)p.cluster << 8 | p.core;
}
