// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#include "arch.h"
#include "cpu_topology.h"
#include "fdt_build.h"
#include "host_pages.h"
#include "log.h"
#include "pages.h"
#include "screenshot.h"
#include "sandbox.h"
#include "vm.h"

/* What arkvm cannot run without, checked once on /dev/kvm. */
static const struct { int cap; const char *name; } required_caps[] = {
	{ KVM_CAP_USER_MEMORY, "USER_MEMORY" },
	{ KVM_CAP_ONE_REG, "ONE_REG" },
	{ KVM_CAP_ARM_PSCI_0_2, "ARM_PSCI_0_2" },
	{ KVM_CAP_IRQFD, "IRQFD" },
	{ KVM_CAP_IOEVENTFD, "IOEVENTFD" },
	{ KVM_CAP_ARM_VM_IPA_SIZE, "ARM_VM_IPA_SIZE" },
	{ KVM_CAP_DEVICE_CTRL, "DEVICE_CTRL" },
	{ KVM_CAP_IMMEDIATE_EXIT, "IMMEDIATE_EXIT" },
};

/*
 * struct vm (some 27 KiB, the console's output ring most of it) comes
 * zeroed from the kernel, so its pages are faulted in only as they are
 * used; zeroing it on main()'s stack, or calloc() from the heap, would
 * touch every one of them first.
 */
struct vm *vm_alloc(const struct vm_config *cfg)
{
	struct vm *vm = pages_zalloc(sizeof(*vm));

	if (!vm) {
		pr_err("out of memory");
		return NULL;
	}
	if (park_init(&vm->vcpu_park) || park_init(&vm->io_park)) {
		pr_err("out of memory");
		pages_free(vm, sizeof(*vm));
		return NULL;
	}
	vm->cfg = cfg;
	vm->state = VM_STATE_CONFIGURED;
	vm->cmds.src.fd = vm->io_park_src.fd = -1;
	vm->kvm_fd = vm->vm_fd = vm->gic_fd = vm->mem_fd = -1;
	vm->signals.fd = -1;
	uffd_backend_init(&vm->uffd);
	vm->loop.epoll_fd = vm->loop.wake_fd = -1;
	vm->io_loop.epoll_fd = vm->io_loop.wake_fd = -1;
	atomic_init(&vm->stop_reason, VM_RUNNING);
	return vm;
}

static void explain_no_kvm(int err)
{
	struct stat st;

	if (err == ENOENT && stat("/sys/module/kvm", &st) == 0)
		pr_err("KVM not available: the host kernel has KVM but no /dev/kvm; it most likely did not start at EL2");
	else if (err == ENOENT)
		pr_err("KVM not available: /dev/kvm does not exist (no KVM in the host kernel, or it did not start at EL2)");
	else if (err == EACCES || err == EPERM)
		pr_err("KVM not available: no permission to open /dev/kvm (join the kvm group)");
	else
		pr_err("KVM not available: /dev/kvm: %s", strerror(err));
}

int vm_open_kvm(struct vm *vm)
{
	int version, size;

	vm->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (vm->kvm_fd < 0) {
		explain_no_kvm(errno);
		return -ENODEV;
	}
	version = ioctl(vm->kvm_fd, KVM_GET_API_VERSION, 0);
	if (version != KVM_API_VERSION) {
		pr_err("KVM not available: API version %d, arkvm needs %d", version, KVM_API_VERSION);
		return -ENODEV;
	}
	for (size_t i = 0; i < ARRAY_SIZE(required_caps); i++) {
		if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, required_caps[i].cap) <= 0) {
			pr_err("KVM on this host lacks KVM_CAP_%s, which arkvm needs",
			       required_caps[i].name);
			return -ENODEV;
		}
	}
	size = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (size < (int)sizeof(struct kvm_run)) {
		pr_err("KVM_GET_VCPU_MMAP_SIZE: %s", strerror(errno));
		return -ENODEV;
	}
	vm->run_size = (size_t)size;
	return 0;
}

static int vm_check_cpus(struct vm *vm)
{
	int host_max = ioctl(vm->vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);

	vm->max_vcpus = (unsigned int)(vm->gic_version == 2 ? ARM64_GICV2_MAX_VCPUS :
				       ARM64_GICR_MAX_VCPUS);
	if (vm->gic_version == 2 && vm->cfg->nr_cpus > vm->max_vcpus) {
		pr_err("--cpus %u: a GICv2 serves at most %u vCPUs", vm->cfg->nr_cpus,
		       vm->max_vcpus);
		return -EINVAL;
	}
	if (host_max > 0 && (unsigned int)host_max < vm->max_vcpus)
		vm->max_vcpus = (unsigned int)host_max;
	if (vm->cfg->nr_cpus > vm->max_vcpus) {
		pr_err("--cpus %u: this host can run at most %u vCPUs in one VM",
		       vm->cfg->nr_cpus, vm->max_vcpus);
		return -EINVAL;
	}
	return 0;
}

int vm_create(struct vm *vm)
{
	unsigned long type;
	int ret;

	ret = arm64_vm_type(vm->kvm_fd, ARM64_RAM_BASE + vm->cfg->mem_size, &type);
	if (ret)
		return ret;
	vm->ipa_bits = (unsigned int)(type & KVM_VM_TYPE_ARM_IPA_SIZE_MASK);
	do {
		vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, type);
	} while (vm->vm_fd < 0 && errno == EINTR);
	if (vm->vm_fd < 0) {
		ret = -errno;
		pr_err("KVM not available: creating a VM failed: %s", strerror(errno));
		return ret;
	}
	ret = gic_choose(vm);
	return ret ? ret : vm_check_cpus(vm);
}

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23 /* Linux 5.14 */
#endif

/*
 * ",prefault": back all of guest RAM now. The huge page advice must come
 * first, so this runs after it rather than as MAP_POPULATE. Kernels older
 * than 5.14 lack MADV_POPULATE_WRITE: one write per page does the same.
 */
static int vm_prefault_ram(u8 *ram, u64 size)
{
	u64 page = host_page_size();

	if (!madvise(ram, size, MADV_POPULATE_WRITE))
		return 0;
	if (errno != EINVAL) {
		pr_err("--memory %lluM,prefault: cannot back guest RAM: %s",
		       (unsigned long long)(size / SZ_1M), strerror(errno));
		return -ENOMEM;
	}
	for (u64 off = 0; off < size; off += page)
		((volatile u8 *)ram)[off] = 0;
	return 0;
}

static int vm_map_hugetlb(struct vm *vm, u64 size)
{
	int populate = vm->cfg->prefault && !vm->uffd_path ? MAP_POPULATE : 0;
	u64 huge = host_hugepage_size();   /* 2M, 32M or 512M with 4K, 16K or 64K pages */
	u8 *p;

	if (!IS_ALIGNED(size, huge)) {
		pr_err("--memory %lluM,hugepages: not a multiple of this host's %lluM hugepages",
		       (unsigned long long)(size / SZ_1M), (unsigned long long)(huge / SZ_1M));
		return -EINVAL;
	}
	p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | populate, -1, 0);
	if (p == MAP_FAILED) {
		pr_err("--memory %lluM,hugepages: cannot get %llu free %lluM hugepages "
		       "(see /proc/sys/vm/nr_hugepages): %s",
		       (unsigned long long)(size / SZ_1M), (unsigned long long)(size / huge),
		       (unsigned long long)(huge / SZ_1M), strerror(errno));
		return -ENOMEM;
	}
	vm->ram = p;
	vm->ram_size = size;
	return 0;
}

/*
 * Guest RAM: by default pages are only backed when the guest touches them,
 * and the mapping is aligned to a huge page (2 MiB with 4K host pages, 32M
 * with 16K, 512M with 64K: ram_map_align()) and advised for transparent huge
 * pages, so that KVM can map it to the guest in blocks; hosts whose THP mode
 * is "madvise" (Ubuntu's) give huge pages only to memory advised so.
 * ",hugepages" takes hugetlb pages instead, which must be free in
 * /proc/sys/vm/nr_hugepages; ",prefault" backs everything now rather than
 * during the guest's boot.
 */
/* A restore's RAM: the memory file, private, read in as the guest touches it. */
static int vm_map_mem_file(struct vm *vm, u8 *at, u64 size)
{
	struct stat st;
	u8 *p;

	if (fstat(vm->mem_fd, &st) || !S_ISREG(st.st_mode) || (u64)st.st_size != size) {
		pr_err("the memory file is %lld bytes; the snapshot's guest has %llu",
		       (long long)st.st_size, (unsigned long long)size);
		return -EINVAL;
	}
	p = mmap(at, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_NORESERVE | MAP_FIXED,
		 vm->mem_fd, 0);
	if (p == MAP_FAILED) {
		pr_err("mapping the memory file: %s", strerror(errno));
		return -ENOMEM;
	}
	return 0;
}

static int vm_map_ram(struct vm *vm, u64 size)
{
	u64 align = ram_map_align(host_page_size());
	u8 *p, *aligned;
	int ret;

	if (vm->cfg->hugepages && vm->mem_fd < 0)
		return vm_map_hugetlb(vm, size);
	p = mmap(NULL, size + align, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED) {
		pr_err("--memory %lluM: cannot map guest RAM: %s",
		       (unsigned long long)(size / SZ_1M), strerror(errno));
		return -ENOMEM;
	}
	aligned = (u8 *)ALIGN_UP((uintptr_t)p, align);
	if (aligned > p)
		munmap(p, (size_t)(aligned - p));
	munmap(aligned + size, (size_t)(p + align - aligned));
	if (vm->mem_fd >= 0) {
		ret = vm_map_mem_file(vm, aligned, size);
		if (ret) {
			munmap(aligned, size);
			return ret;
		}
		vm->ram = aligned;
		vm->ram_size = size;
		return 0;
	}
	p = mmap(aligned, size, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0);
	if (p == MAP_FAILED) {
		munmap(aligned, size);
		pr_err("--memory %lluM: cannot map guest RAM: %s",
		       (unsigned long long)(size / SZ_1M), strerror(errno));
		return -ENOMEM;
	}
	/*
	 * A Uffd restore's RAM is neither advised nor prefaulted: the page
	 * server fills it a page at a time, and a page backed here first
	 * would never reach it (the guest would read zeroes).
	 */
	if (vm->uffd_path) {
		vm->ram = p;
		vm->ram_size = size;
		return 0;
	}
	madvise(p, size, MADV_HUGEPAGE); /* EINVAL without THP: 4 KiB pages then */
	if (vm->cfg->prefault) {
		ret = vm_prefault_ram(p, size);
		if (ret) {
			munmap(p, size);
			return ret;
		}
	}
	vm->ram = p;
	vm->ram_size = size;
	return 0;
}

/*
 * A Uffd restore: the empty RAM goes to the page server before anything
 * touches it.  Its pages are the host's, or its hugepages for a hugetlb guest.
 */
static int vm_attach_uffd(struct vm *vm)
{
	u64 page = vm->cfg->hugepages ? host_hugepage_size() : host_page_size();
	char err[256];
	int ret;

	ret = uffd_attach(&vm->uffd, vm->ram, vm->ram_size, page, vm->uffd_path, err, sizeof(err));
	if (ret)
		pr_err("%s", err);
	return ret;
}

int vm_setup_memory(struct vm *vm)
{
	u64 size = vm->cfg->mem_size;
	struct kvm_userspace_memory_region region;
	struct sysinfo si;
	int ret;

	if (sysinfo(&si) == 0 && size > (u64)si.totalram * si.mem_unit) {
		pr_err("--memory %lluM: more than the host's %lluM of RAM",
		       (unsigned long long)(size / SZ_1M),
		       (unsigned long long)((u64)si.totalram * si.mem_unit / SZ_1M));
		return -ENOMEM;
	}
	ret = vm_map_ram(vm, size);
	if (ret)
		return ret;
	madvise(vm->ram, size, MADV_DONTDUMP);
	if (vm->uffd_path) {
		ret = vm_attach_uffd(vm);
		if (ret)
			return ret;
	}

	region = (struct kvm_userspace_memory_region){
		.slot = 0,
		.flags = vm->cfg->track_dirty_pages ? KVM_MEM_LOG_DIRTY_PAGES : 0,
		.guest_phys_addr = ARM64_RAM_BASE,
		.memory_size = size,
		.userspace_addr = (u64)(uintptr_t)vm->ram,
	};
	/* Diff snapshots: KVM logs the guest's writes, arkvm its own. */
	if (vm->cfg->track_dirty_pages &&
	    guest_mem_track_dirty(&vm->mem, ARM64_RAM_BASE, size,
				  (unsigned int)__builtin_ctzll(host_page_size())))
		return -ENOMEM;
	if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &region) < 0) {
		ret = -errno;
		pr_err("KVM_SET_USER_MEMORY_REGION: %s", strerror(errno));
		return ret;
	}
	ret = guest_mem_add(&vm->mem, ARM64_RAM_BASE, size, vm->ram);
	if (ret)
		return ret;
	boot_layout_init(&vm->boot, ARM64_RAM_BASE, size);
	return 0;
}

int vm_load_images(struct vm *vm)
{
	int ret = load_kernel(&vm->mem, &vm->boot, vm->cfg->kernel);

	if (ret || !vm->cfg->initrd[0])
		return ret;
	return load_initrd(&vm->mem, &vm->boot, vm->cfg->initrd);
}

static void vm_console_quit(void *opaque)
{
	vm_request_stop(opaque, VM_STOP_USER);
}

int vm_setup_devices(struct vm *vm)
{
	int ret;

	/* Input goes to the guest's console: a device in the registry says which. */
	console_init(&vm->console, NULL, NULL, vm_console_quit, vm);
	ret = event_loop_init(&vm->io_loop);
	if (ret) {
		pr_err("creating the I/O event loop: %s", strerror(-ret));
		return ret;
	}
	return vm_devices_create(vm);
}

/*
 * The I/O thread.  When a device must start on it (--gpu virgl: its GL
 * context is the thread's) it starts it first, and then runs without a
 * seccomp filter: Mesa opens render nodes and shader caches, maps
 * executable memory for llvmpipe's shaders and starts threads of its own.
 */
static void *vm_io_thread(void *arg)
{
	struct vm *vm = arg;
	bool filtered = !vm->cfg->no_seccomp;

	pthread_setname_np(pthread_self(), "io");
	if (vm_devices_on_io_thread(vm)) {
		vm->io_start_err = vm_devices_io_start(vm);
		sem_post(&vm->io_ready);
		if (vm->io_start_err) {
			park_leave(&vm->io_park);
			return NULL;
		}
		filtered = false;
	}
	if (sandbox_enter(SANDBOX_IO, filtered) || event_loop_run(&vm->io_loop))
		vm_request_stop(vm, VM_STOP_ERROR);
	vm_devices_io_stop(vm);
	vm->io_cpu_ns = thread_cpu_ns();
	park_leave(&vm->io_park);
	return NULL;
}

int vm_thread_create(pthread_t *thread, void *(*fn)(void *), void *arg, size_t stack)
{
	pthread_attr_t attr;
	int ret = pthread_attr_init(&attr);

	if (ret)
		return ret;
	if (stack)
		ret = pthread_attr_setstacksize(&attr, stack);
	if (!ret)
		ret = pthread_create(thread, &attr, fn, arg);
	pthread_attr_destroy(&attr);
	return ret;
}

static int vm_start_io(struct vm *vm)
{
	bool devices_start = vm_devices_on_io_thread(vm);
	int ret;

	if (devices_start && sem_init(&vm->io_ready, 0, 0))
		return -errno;
	/* A renderer (Mesa) needs glibc's default stack. */
	ret = vm_thread_create(&vm->io_thread, vm_io_thread, vm,
			       devices_start ? 0 : VM_THREAD_STACK_SIZE);
	if (ret) {
		pr_err("cannot start the I/O thread: %s", strerror(ret));
		return -ret;
	}
	vm->io_started = true;
	if (devices_start) {
		/* The renderer is up (or said why not) before any vCPU runs. */
		while (sem_wait(&vm->io_ready) && errno == EINTR)
			;
		return vm->io_start_err;
	}
	return 0;
}

static void vm_stop_io(struct vm *vm)
{
	if (!vm->io_started)
		return;
	/*
	 * The loop returns after the event it is serving; disk requests
	 * still in flight end in virtio_blk_close().
	 */
	event_loop_stop(&vm->io_loop);
	pthread_join(vm->io_thread, NULL);
	vm->io_started = false;
}

static int vm_build_fdt(struct vm *vm, void **blob, size_t *size)
{
	struct fdt_info info = {
		.boot = &vm->boot,
		.cmdline = vm->cfg->cmdline,
		.nr_cpus = vm->nr_vcpus,
		.bus = &vm->bus,
		.stdout_path = "/uart@9000000",
		.gic_version = vm->gic_version,
		.topology = cpu_topology_given(&vm->cfg->topology) ? &vm->cfg->topology : NULL,
		.pmu = vm->cpu.pmu,
	};
	u64 *mpidrs;
	int ret;

	mpidrs = calloc(vm->nr_vcpus, sizeof(*mpidrs));
	if (!mpidrs)
		return -ENOMEM;
	for (unsigned int i = 0; i < vm->nr_vcpus; i++)
		mpidrs[i] = vm->vcpus[i].mpidr;
	info.mpidrs = mpidrs;

	if (getrandom(info.rng_seed, sizeof(info.rng_seed), 0) != sizeof(info.rng_seed) ||
	    getrandom(&info.kaslr_seed, sizeof(info.kaslr_seed), 0) != sizeof(info.kaslr_seed)) {
		pr_err("getrandom: %s", strerror(errno));
		free(mpidrs);
		return -EIO;
	}
	ret = fdt_build(&info, blob, size);
	free(mpidrs);
	return ret;
}

int vm_setup_fdt(struct vm *vm)
{
	void *blob;
	size_t size;
	int ret = vm_build_fdt(vm, &blob, &size);

	if (ret)
		return ret;
	boot_layout_place_fdt(&vm->boot);
	ret = guest_mem_write(&vm->mem, vm->boot.fdt_gpa, blob, size);
	vm->boot.fdt_size = size;
	free(blob);
	if (ret) {
		pr_err("writing the device tree into guest RAM: %s", strerror(-ret));
		return ret;
	}
	return arm64_set_boot_regs(&vm->vcpus[0], vm->boot.kernel_gpa, vm->boot.fdt_gpa);
}

int vm_dump_dtb(struct vm *vm, const char *path)
{
	const void *blob = gpa_to_hva(&vm->mem, vm->boot.fdt_gpa, vm->boot.fdt_size);
	FILE *f = fopen(path, "wb");

	if (!f || !blob || fwrite(blob, 1, vm->boot.fdt_size, f) != vm->boot.fdt_size ||
	    fclose(f)) {
		pr_err("--dump-dtb '%s': %s", path, strerror(errno));
		if (f)
			unlink(path);
		return -EIO;
	}
	return 0;
}

static void vm_signal(struct event_source *src, uint32_t events __unused)
{
	struct vm *vm = container_of(src, struct vm, signals);
	struct signalfd_siginfo si;

	if (read(src->fd, &si, sizeof(si)) != sizeof(si))
		return;
	if (si.ssi_signo == SIGUSR1) {
		vm_devices_capture(vm);
		return;
	}
#ifdef ARKVM_TEST_HOOKS
	if (si.ssi_signo == SIGUSR2) {
		vm_test_pause_toggle(vm);
		return;
	}
#endif
	if (!vm_stopping(vm))
		vm->stop_signal = (int)si.ssi_signo;
	vm_request_stop(vm, VM_STOP_SIGNAL);
}

/*
 * SIGTERM, SIGINT and SIGHUP stop the VM; SIGUSR1 takes a screenshot (and
 * is ignored without --screenshot).  They arrive on the main loop.
 */
void vm_main_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGHUP);
	sigaddset(set, SIGUSR1);
#ifdef ARKVM_TEST_HOOKS
	sigaddset(set, SIGUSR2);
#endif
}

static int vm_setup_signals(struct vm *vm)
{
	sigset_t set;

	vm_main_signals(&set);
	/* The vCPU threads already block them (vcpus_spawn()); the rest inherit it. */
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	vm->signals.fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (vm->signals.fd < 0)
		return -errno;
	vm->signals.ready = vm_signal;
	return event_loop_add(&vm->loop, &vm->signals, EPOLLIN);
}

/*
 * Where the CPU went while the guest ran: each vCPU thread's time is the
 * guest's own plus its exits; the I/O thread's is arkvm's cost of every
 * virtqueue buffer (all devices share it), given per buffer too.
 */
static void vm_print_cpu_stats(const struct vm *vm, u64 stopped, unsigned long buffers)
{
	u64 first_run = atomic_load(&vm->boot_times.first_run);

	for (unsigned int i = 0; i < vm->nr_vcpus; i++)
		pr_info("stats: vcpu%u: %llu exits to arkvm, %llu of them MMIO; %.1f ms CPU", i,
			(unsigned long long)vm->vcpus[i].exits,
			atomic_load(&vm->vcpus[i].metrics.exit_mmio_read.total) +
				atomic_load(&vm->vcpus[i].metrics.exit_mmio_write.total), ns_to_ms(vm->vcpus[i].cpu_ns));
	pr_info("stats: I/O thread: %.1f ms CPU for %lu buffers, %.1f us per buffer; "
		"main thread: %.1f ms CPU; guest ran %.1f ms",
		ns_to_ms(vm->io_cpu_ns), buffers, ratio((unsigned long)(vm->io_cpu_ns / 1000), buffers),
		ns_to_ms(thread_cpu_ns()), first_run ? ns_to_ms(stopped - first_run) : 0.0);
}

/* What --cpu-features gave the vCPUs, after what the host offers. */
static void vm_print_cpu_features(const struct vm *vm)
{
	char buf[160];

	arm64_cpu_describe(&vm->cpu, buf, sizeof(buf));
	pr_info("stats: CPU features: %s", buf);
}

/* --stats: what each vCPU and device cost, read once every thread is gone. */
static void vm_print_stats(const struct vm *vm, u64 stopped)
{
	unsigned long buffers = 0;

	/* For tools that tell arkvm's own memory from the guest's (make bench). */
	pr_info("stats: guest RAM at host 0x%lx-0x%lx", (unsigned long)(uintptr_t)vm->ram,
		(unsigned long)(uintptr_t)vm->ram + (unsigned long)vm->ram_size);
	for (unsigned int i = 0; i < vm->nr_virtio; i++) {
		const struct virtio_dev *d = vm->virtio[i].dev;
		unsigned long used = atomic_load(&d->stats.used);
		unsigned long kicks = virtio_stats_kicks(&d->stats);
		unsigned long irqs = atomic_load(&d->stats.interrupts);
		unsigned long mmio = atomic_load(&d->stats.mmio);

		pr_info("stats: %s@%llx: %lu buffers used, %lu kicks, %lu interrupts, "
			"%lu register accesses; per buffer: %.3f kicks, %.3f interrupts, "
			"%.3f register accesses",
			d->name, ARM64_VIRTIO_BASE + i * ARM64_VIRTIO_SLOT_SIZE, used, kicks,
			irqs, mmio, ratio(kicks, used), ratio(irqs, used), ratio(mmio, used));
		buffers += used;
	}
	vm_print_cpu_stats(vm, stopped, buffers);
	vm_print_cpu_features(vm);
	vm_devices_print_stats(vm);
}

int vm_run(struct vm *vm)
{
	sigset_t kick;
	u64 stopped;
	int ret;

	ret = event_loop_init(&vm->loop);
	if (!ret)
		ret = vm_setup_signals(vm);
	if (!ret)
		ret = vm_lifecycle_init(vm);
	if (ret) {
		pr_err("setting up the event loop: %s", strerror(-ret));
		return EXIT_VMM_ERROR;
	}
	/* Only vCPU threads take the kick signal; they unblock it themselves. */
	sigemptyset(&kick);
	sigaddset(&kick, VCPU_KICK_SIGNAL);
	pthread_sigmask(SIG_BLOCK, &kick, NULL);

	ret = console_start(&vm->console, &vm->loop);
	if (!ret)
		ret = sandbox_prepare(vm->console.raw ? &vm->console.saved : NULL);
	/*
	 * vCPUs first: the guest boots while the I/O thread starts.  Nothing
	 * is lost meanwhile, a kick waits in its ioeventfd until it is read.
	 * Only a renderer that must start on the I/O thread goes before them.
	 */
	if (!ret && vm_devices_on_io_thread(vm))
		ret = vm_start_io(vm);
	if (!ret)
		ret = vcpus_start(vm);
	if (!ret && !vm->io_started)
		ret = vm_start_io(vm);
	if (!ret) {
		vm->state = VM_STATE_RUNNING;
		/* The first command the loop serves: the vCPUs have barely begun. */
		if (vm->start_paused)
			vm_cmd_queue_post(&vm->cmds, VM_CMD_PAUSE, 0);
		/* Before the filter: whoever waits may add a timer to the loop (metrics). */
		if (vm->running)
			vm->running(vm, vm->running_opaque);
	}
	/* Last: threads inherit the filter of the thread that creates them. */
	if (!ret)
		ret = sandbox_enter(SANDBOX_MAIN, !vm->cfg->no_seccomp);
	if (!ret)
		ret = event_loop_run(&vm->loop);
	if (ret)
		vm_request_stop(vm, VM_STOP_ERROR);

	vm_lifecycle_stopped(vm);
	vcpus_stop(vm);
	stopped = boot_clock_ns();
	vm_devices_capture(vm); /* the last picture: no vCPU draws any more */
	vm_stop_io(vm);
	console_destroy(&vm->console);
	if (vm->cfg->stats)
		vm_print_stats(vm, stopped);
	return vm_exit_status(atomic_load(&vm->stop_reason), vm->stop_signal);
}

void vm_destroy(struct vm *vm)
{
	vcpus_destroy(vm);
	/*
	 * Devices first: a device with threads of its own (virtio-fs's
	 * workers) may still raise its interrupt until it is destroyed, and
	 * its irqfd's number must not be a file another thread just opened.
	 */
	vm_devices_destroy(vm);
	virtio_slots_detach(vm);
	if (vm->io_loop.epoll_fd >= 0)
		event_loop_destroy(&vm->io_loop);
	vm_lifecycle_destroy(vm);
	if (vm->signals.fd >= 0)
		close(vm->signals.fd);
	if (vm->loop.epoll_fd >= 0)
		event_loop_destroy(&vm->loop);
	if (vm->gic_fd >= 0)
		close(vm->gic_fd);
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
	arm64_cpu_destroy(vm);  /* its memory slot went with the VM */
	if (vm->kvm_fd >= 0)
		close(vm->kvm_fd);
	if (vm->ram)
		munmap(vm->ram, vm->ram_size);
	if (vm->mem_fd >= 0)
		close(vm->mem_fd);
	guest_mem_untrack_dirty(&vm->mem);
	uffd_backend_close(&vm->uffd);  /* after the RAM it covers is gone */
	park_destroy(&vm->io_park);
	park_destroy(&vm->vcpu_park);
	pages_free(vm, sizeof(*vm));
}
