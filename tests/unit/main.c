// SPDX-License-Identifier: Apache-2.0
#include <string.h>

#include "test.h"

extern const struct test_suite guest_mem_suite, mmio_bus_suite, cli_suite, loader_suite,
	fdt_suite, uart_suite, vcpu_exit_suite, console_suite, virtqueue_suite,
	virtio_mmio_suite, virtio_blk_suite, virtio_net_suite, virtio_console_suite, boot_timer_suite,
	virtio_gpu_suite, screenshot_suite, virtio_input_suite, vm_config_suite,
	lifecycle_suite, virtio_state_suite, sandbox_suite, disk_raw_suite, disk_qcow2_suite, disk_image_suite, api_suite, log_suite,
	metrics_suite, rate_limiter_suite,
	rl_devices_suite, snapshot_suite, device_state_suite,
	uffd_suite, virtio_vsock_suite, event_loop_suite, virtio_balloon_suite,
	virtio_fs_suite, fuse_suite, fuse_hostile_suite, net_passt_suite, pl031_suite,
	host_pages_suite, cpu_topology_suite, exec_proto_suite, exec_agent_suite, exec_suite,
	exec_client_suite, exec_warm_suite, exec_net_suite;
#ifdef ARKVM_VIRGL
extern const struct test_suite gpu_virgl_suite;
#endif
#ifdef ARKVM_VNC
extern const struct test_suite vnc_suite;
#endif
extern const struct test_suite virtio_fs_state_suite;
extern const struct test_suite restore_cli_suite;

static const struct test_suite *const suites[] = {
	&guest_mem_suite, &mmio_bus_suite, &cli_suite, &loader_suite,
	&fdt_suite, &uart_suite, &vcpu_exit_suite, &console_suite, &virtqueue_suite,
	&virtio_mmio_suite, &virtio_blk_suite, &virtio_net_suite, &virtio_console_suite, &boot_timer_suite,
	&virtio_gpu_suite, &screenshot_suite, &virtio_input_suite, &vm_config_suite, &lifecycle_suite,
	&virtio_state_suite, &sandbox_suite, &disk_raw_suite, &disk_qcow2_suite, &disk_image_suite, &api_suite, &log_suite, &metrics_suite,
	&rate_limiter_suite, &rl_devices_suite, &snapshot_suite, &device_state_suite, &uffd_suite,
	&virtio_vsock_suite, &event_loop_suite, &virtio_balloon_suite, &virtio_fs_suite,
	&fuse_suite, &fuse_hostile_suite, &net_passt_suite, &pl031_suite, &host_pages_suite,
	&cpu_topology_suite, &exec_proto_suite, &exec_agent_suite, &exec_suite, &exec_client_suite, &exec_warm_suite,
	&exec_net_suite,
#ifdef ARKVM_VIRGL
	&gpu_virgl_suite,
#endif
#ifdef ARKVM_VNC
	&vnc_suite,
#endif
	&virtio_fs_state_suite,
	&restore_cli_suite,
};

static bool failed;


bool test_failed(void)
{
	return failed;
}

void test_fail(const char *file, int line, const char *what)
{
	fprintf(stdout, "  %s:%d: check failed: %s\n", file, line, what);
	failed = true;
}

/* Usage: unit-tests [substring]: runs the cases whose suite/name contains it. */
int main(int argc, char **argv)
{
	unsigned int passed = 0, nfailed = 0;

	/* Line by line: a sanitizer that ends the run must not take the verdicts with it. */
	setvbuf(stdout, NULL, _IOLBF, 0);

	for (size_t s = 0; s < sizeof(suites) / sizeof(suites[0]); s++) {
		const struct test_suite *suite = suites[s];

		for (unsigned int i = 0; i < suite->nr_cases; i++) {
			char full[128];

			snprintf(full, sizeof(full), "%s/%s", suite->name, suite->cases[i].name);
			if (argc > 1 && !strstr(full, argv[1]))
				continue;
			failed = false;
			suite->cases[i].fn();
			printf("%s: unit/%s\n", failed ? "FAIL" : "PASS", full);
			if (failed)
				nfailed++;
			else
				passed++;
		}
	}
	printf("unit: %u passed, %u failed\n", passed, nfailed);
	return nfailed ? 1 : 0;
}
