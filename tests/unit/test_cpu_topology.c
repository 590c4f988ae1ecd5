// SPDX-License-Identifier: Apache-2.0
#include "cpu_topology.h"
#include "test.h"

static void test_place_counts_threads_fastest(void)
{
	const struct cpu_topology_config t = { .sockets = 2, .clusters = 3, .cores = 4, .threads = 2 };
	struct cpu_place p;

	cpu_topology_place(&t, 0, &p);
	CHECK(!p.socket && !p.cluster && !p.core && !p.thread);
	cpu_topology_place(&t, 1, &p);
	CHECK(!p.socket && !p.cluster && !p.core && p.thread == 1);
	cpu_topology_place(&t, 2, &p);
	CHECK(!p.socket && !p.cluster && p.core == 1 && !p.thread);
	cpu_topology_place(&t, 8, &p);
	CHECK(!p.socket && p.cluster == 1 && !p.core && !p.thread);
	cpu_topology_place(&t, 47, &p);
	CHECK(p.socket == 1 && p.cluster == 2 && p.core == 3 && p.thread == 1);
}

static void test_mpidr(void)
{
	const struct cpu_topology_config smt = { .sockets = 2, .clusters = 3, .cores = 4, .threads = 2 };
	const struct cpu_topology_config flat = { .sockets = 2, .clusters = 2, .cores = 16, .threads = 1 };

	/* SMT: MT set, Aff0 thread, Aff1 core, Aff2 cluster, Aff3 socket; bit 31 RES1. */
	CHECK_EQ(cpu_topology_mpidr(&smt, 0), 0x81000000ULL);
	CHECK_EQ(cpu_topology_mpidr(&smt, 1), 0x81000001ULL);
	CHECK_EQ(cpu_topology_mpidr(&smt, 2), 0x81000100ULL);
	CHECK_EQ(cpu_topology_mpidr(&smt, 47), 0x181020301ULL);
	/* One thread: MT clear, Aff0 core (up to 15), Aff1 cluster, Aff2 socket. */
	CHECK_EQ(cpu_topology_mpidr(&flat, 0), 0x80000000ULL);
	CHECK_EQ(cpu_topology_mpidr(&flat, 15), 0x8000000fULL);
	CHECK_EQ(cpu_topology_mpidr(&flat, 16), 0x80000100ULL);
	CHECK_EQ(cpu_topology_mpidr(&flat, 63), 0x8001010fULL);
	/* Every vCPU's is its own. */
	for (unsigned int i = 0; i < 48; i++)
		for (unsigned int j = 0; j < i; j++)
			CHECK(cpu_topology_mpidr(&smt, i) != cpu_topology_mpidr(&smt, j));
}

TEST_SUITE(cpu_topology,
	   TEST(test_place_counts_threads_fastest),
	   TEST(test_mpidr));
