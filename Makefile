# arkvm: a virtual machine monitor for arm64 Linux hosts with KVM.
#
#   make               build build/arm64/arkvm (cross-compiled on non-arm64 hosts)
#   make STATIC=1      a fully static binary (what the lab runs)
#   make TEST_HOOKS=1  with the hooks the lab tests need (src/sandbox.c; SIGUSR2
#                      pauses and resumes, src/lifecycle.c)
#   make test          unit tests (native, ASan+UBSan) and the arm64 lab tests
#   make test-gpu      the slow --gpu virgl guest tests (not part of make test),
#                      kmscube in the guest included (GL=0 leaves it out)
#   make unit          only the native unit tests
#   make tsan          the same unit tests built with ThreadSanitizer (build/tsan/),
#                      for the paths that cross threads; make test runs it too
#   make run           boot the default guest to a shell (in the lab on non-arm64)
#   make fuzz          run every libFuzzer target for FUZZ_SECONDS (default 120) each
#   make bench         boot time, memory, disk and network figures against their targets
#   make guest-kernel  the minimal microVM guest kernel (configs/microvm-arm64.config)
#   make deps          install the build dependencies (Debian, as root)
#   make install       the built arkvm, its man page and the example configs under
#                      PREFIX (/usr/local) in DESTDIR; FIRECRACKER_LINK=1 adds
#                      bin/firecracker as a link to it. make uninstall removes them.

ARCH      ?= arm64
HOST_ARCH := $(shell uname -m)
CACHE     ?= $(HOME)/.cache/arkvm
BUILD     := build/$(ARCH)
NATIVE    := build/native
STATIC    ?= 0
TEST_HOOKS ?= 0

ifeq ($(ARCH),arm64)
else
$(error ARCH=$(ARCH): arkvm only supports arm64)
endif

# clang and its libFuzzer runtime, for the fuzz targets.
FUZZ_PACKAGES := clang libclang-rt-dev
# virglrenderer and Mesa's EGL with llvmpipe, for --gpu virgl and its tests;
# libvncserver for --display vnc.
GPU_PACKAGES := pkg-config libvirglrenderer-dev libegl-mesa0 libgl1-mesa-dri libvncserver-dev

ifeq ($(HOST_ARCH),aarch64)
CROSS_COMPILE ?=
APT_PACKAGES  := gcc libc6-dev libfdt-dev zlib1g-dev liburing-dev libseccomp-dev \
                 libpng-dev device-tree-compiler libjansson-dev libhttp-parser-dev \
                 $(FUZZ_PACKAGES) $(GPU_PACKAGES)
APT_PACKAGES  += passt
else
CROSS_COMPILE ?= aarch64-linux-gnu-
APT_PACKAGES  := gcc gcc-aarch64-linux-gnu libc6-dev-arm64-cross libfdt-dev \
                 zlib1g-dev zlib1g-dev:arm64 liburing-dev liburing-dev:arm64 \
                 libpng-dev libpng-dev:arm64 libseccomp-dev device-tree-compiler \
                 libjansson-dev libjansson-dev:arm64 libhttp-parser-dev \
                 $(FUZZ_PACKAGES) $(GPU_PACKAGES)
APT_PACKAGES  += passt
# libfdt-dev and libhttp-parser-dev cannot be co-installed for two
# architectures, so their arm64 static libraries come from the packages,
# unpacked into a sysroot in the cache.
SYSROOT       := $(CACHE)/sysroot-arm64
TARGET_LDFLAGS := -L$(SYSROOT)/usr/lib/aarch64-linux-gnu
endif

# groff: tests/install-check.sh checks the man page with it.
APT_PACKAGES += groff-base
# qemu-img: the reference the qcow2 tests compare against, and the lab's images.
APT_PACKAGES += qemu-utils

TARGET_CC := $(CROSS_COMPILE)gcc
HOST_CC   ?= gcc

# virtio-gpu 3D (--gpu virgl) is built where pkg-config finds virglrenderer
# for the machine the code is built for; GPU=0 leaves it out, and so does a
# static build (virglrenderer and Mesa are shared libraries).
ifeq ($(HOST_ARCH),aarch64)
TARGET_PKG_CONFIG := pkg-config
else
TARGET_PKG_CONFIG := PKG_CONFIG_LIBDIR=/usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig pkg-config
endif
GPU ?= 1
ifeq ($(GPU),1)
NATIVE_VIRGL := $(shell pkg-config --exists virglrenderer 2>/dev/null && echo 1)
ifneq ($(STATIC),1)
TARGET_VIRGL := $(shell $(TARGET_PKG_CONFIG) --exists virglrenderer 2>/dev/null && echo 1)
endif
endif
# --display vnc likewise, with libvncserver; VNC=0 leaves it out.
VNC ?= 1
ifeq ($(VNC),1)
NATIVE_VNC := $(shell pkg-config --exists libvncserver 2>/dev/null && echo 1)
ifneq ($(STATIC),1)
TARGET_VNC := $(shell $(TARGET_PKG_CONFIG) --exists libvncserver 2>/dev/null && echo 1)
endif
endif

WARNINGS := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
            -Wpointer-arith -Wvla -Wformat=2 -Wundef -Wcast-align -Wno-unused-parameter
CFLAGS_COMMON := -std=gnu11 -O2 -g $(WARNINGS) -D_GNU_SOURCE -Iinclude -Isrc -MMD -MP
LIBS := -lfdt -lpng16 -lz -luring -ljansson -lhttp_parser -lpthread -lm
TARGET_LIBS := $(LIBS)

ifeq ($(STATIC),1)
TARGET_LDFLAGS += -static
endif

# Host-independent code: built for arm64 and natively for the unit tests.
CORE_SRCS := src/log.c src/guest_mem.c src/mmio_bus.c src/event_loop.c src/vm_config.c src/cli.c src/cli_devices.c \
             src/http.c src/fc_config.c src/fc_json.c src/fc_shares.c src/fc_cli.c src/vmm.c src/api.c src/api_server.c src/snapshot_file.c src/snapshot_merge.c \
             src/park.c src/vm_state.c src/state.c src/virtio_state.c \
             src/file.c src/loader.c src/fdt.c src/console.c src/vcpu_exit.c \
             src/virtqueue.c src/virtio_mmio.c devices/uart_16550.c devices/boot_timer.c \
             devices/virtio_blk.c devices/virtio_blk_class.c devices/virtio_rng.c devices/virtio_net.c \
             devices/virtio_console.c devices/virtio_gpu.c devices/gpu_3d.c devices/gpu_edid.c \
             devices/gpu_2d.c devices/virtio_input.c src/screenshot.c
# One device's section of a snapshot (include/device.h).
CORE_SRCS += src/device_state.c
# Network backends behind include/net_backend.h.
CORE_SRCS += src/backends/net_tap.c src/backends/net_vhost.c
CORE_SRCS += src/backends/net_passt.c src/backends/passt_spawn.c
# Disk backends (include/disk.h), under virtio-blk.
CORE_SRCS += src/backends/disk_raw.c
CORE_SRCS += src/backends/disk_qcow2.c src/backends/qcow2_io.c
CORE_SRCS += src/backends/disk_image.c src/backends/qcow2_create.c
CORE_SRCS += src/backends/qcow2_meta.c src/backends/qcow2_refcount.c src/backends/qcow2_aio.c
# Firecracker-shaped metrics (include/metrics.h).
CORE_SRCS += src/metrics.c
# --cpus topology: each vCPU's place and MPIDR (include/cpu_topology.h).
CORE_SRCS += src/cpu_topology.c
# Token buckets for the virtio devices (include/rate_limiter.h).
CORE_SRCS += src/rate_limiter.c
# Firecracker's Uffd memory backend, the VMM's half (include/uffd.h).
CORE_SRCS += src/uffd.c
# arkvm restore's command line (include/vmm.h).
CORE_SRCS += src/restore_cli.c
CORE_SRCS += devices/pl031.c
CORE_SRCS += src/host_pages.c
CORE_SRCS += devices/virtio_vsock.c devices/virtio_vsock_host.c devices/virtio_vsock_class.c
CORE_SRCS += devices/virtio_balloon.c devices/virtio_balloon_class.c
# virtio-fs: the device and its workers (host-independent), its registry
# class (arkvm's only), and the in-process FUSE server behind it
# (include/fuse_server.h).
VFS_SRCS  := devices/virtio_fs.c
CORE_SRCS += $(VFS_SRCS)
VFS_VMM_SRCS := devices/virtio_fs_class.c
# arkvm exec's protocol with its guest agent (include/exec_proto.h).
CORE_SRCS += src/exec_proto.c
CORE_SRCS += src/fuse/server.c src/fuse/inode.c src/fuse/ops_name.c src/fuse/ops_file.c \
             src/fuse/ops_dir.c src/fuse/ops_xattr.c
# arkvm exec's host side (include/exec.h); exec.c, with the agent, is arm64's only.
CORE_SRCS += src/exec_opts.c src/exec_client.c src/exec_initramfs.c src/exec_modules.c \
	src/exec_warm.c
CORE_SRCS += src/exec_net.c
# The guest agent's session (include/exec_agent.h): in the agent, and
# natively in the unit tests.  agent/agent.c and agent/boot.c are PID 1's.
AGENT_LIB_SRCS := agent/session.c agent/spawn.c agent/relay.c
AGENT_SRCS := agent/agent.c agent/boot.c $(AGENT_LIB_SRCS) src/exec_proto.c
AGENT_SRCS += agent/net.c
# Code that talks to KVM on arm64.
VMM_SRCS  := src/main.c src/vm.c src/lifecycle.c src/devices.c devices/display.c src/vcpu.c src/virtio_slots.c src/sandbox.c \
             src/arch/arm64/gic.c src/arch/arm64/cpu.c src/arch/arm64/gic_state.c \
             src/arch/arm64/cpu_state.c src/snapshot.c
VMM_SRCS  += src/arch/arm64/cpu_features.c
VMM_SRCS  += $(VFS_VMM_SRCS)
VMM_SRCS  += src/exec.c
UNIT_SRCS := $(filter-out tests/unit/test_gpu_virgl.c tests/unit/test_vnc.c,$(wildcard tests/unit/*.c))
NATIVE_SRCS := $(CORE_SRCS) src/sandbox.c
NATIVE_SRCS += $(AGENT_LIB_SRCS)
NATIVE_LIBS := $(LIBS)
ifeq ($(NATIVE_VIRGL),1)
NATIVE_SRCS += devices/gpu_virgl.c
UNIT_SRCS   += tests/unit/test_gpu_virgl.c
NATIVE_CFLAGS += -DARKVM_VIRGL $(shell pkg-config --cflags virglrenderer)
NATIVE_LIBS += $(shell pkg-config --libs virglrenderer)
endif
ifeq ($(NATIVE_VNC),1)
NATIVE_SRCS += src/vnc.c
UNIT_SRCS   += tests/unit/test_vnc.c
NATIVE_CFLAGS += -DARKVM_VNC
NATIVE_LIBS += $(shell pkg-config --libs libvncserver)
endif
ifeq ($(TARGET_VNC),1)
VMM_SRCS    += src/vnc.c
TARGET_CFLAGS += -DARKVM_VNC
TARGET_LIBS += $(shell $(TARGET_PKG_CONFIG) --libs libvncserver)
endif
ifeq ($(TARGET_VIRGL),1)
VMM_SRCS    += devices/gpu_virgl.c
TARGET_CFLAGS += -DARKVM_VIRGL $(shell $(TARGET_PKG_CONFIG) --cflags virglrenderer)
TARGET_LIBS += $(shell $(TARGET_PKG_CONFIG) --libs virglrenderer)
endif

TARGET_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(CORE_SRCS) $(VMM_SRCS)) \
               $(BUILD)/obj/gen/sandbox_bpf.o
TARGET_OBJS += $(BUILD)/obj/src/exec_agent_image.o
UNIT_OBJS   := $(patsubst %.c,$(NATIVE)/obj/%.o,$(NATIVE_SRCS) $(UNIT_SRCS)) \
               $(NATIVE)/obj/gen/sandbox_bpf.o
SANITIZE    := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
# make tsan: the unit tests again with ThreadSanitizer (it cannot share a binary with ASan).
TSAN        := build/tsan
TSAN_OBJS   := $(patsubst %.c,$(TSAN)/obj/%.o,$(NATIVE_SRCS) $(UNIT_SRCS)) \
               $(TSAN)/obj/gen/sandbox_bpf.o
# TSan does not model fences (gcc warns); arkvm's order the rings it shares
# with the guest, which in the unit tests is the test's own thread.
TSAN_CFLAGS := -fsanitize=thread -Wno-tsan

# Named after the package list, so adding a package installs it again.
DEPS_STAMP := $(CACHE)/deps-$(shell echo '$(APT_PACKAGES)' | cksum | cut -d' ' -f1).stamp

# libFuzzer targets (tests/fuzz/), built natively with clang.
FUZZ_TARGETS := virtqueue virtio_mmio virtio_blk virtio_net virtio_gpu uart loader cli \
                virtio_state api fc_config snapshot
FUZZ_TARGETS += virtio_vsock
FUZZ_TARGETS += virtio_balloon
FUZZ_TARGETS += fuse
FUZZ_TARGETS += qcow2
FUZZ_TARGETS += net_passt
FUZZ_TARGETS += pl031
FUZZ_TARGETS += exec_proto
FUZZ          := build/fuzz
FUZZ_CC       ?= clang
FUZZ_SECONDS  ?= 120
FUZZ_OBJS     := $(patsubst %.c,$(FUZZ)/obj/%.o,$(CORE_SRCS) tests/unit/fake_driver.c)
# The API server (in CORE_SRCS) enters its seccomp filter: link the filters too.
FUZZ_OBJS     += $(FUZZ)/obj/src/sandbox.o $(FUZZ)/obj/gen/sandbox_bpf.o
# Kept between runs: only the pattern rules name them, which would make them intermediate.
.SECONDARY: $(FUZZ_OBJS)
FUZZ_BINS     := $(addprefix $(FUZZ)/fuzz_,$(FUZZ_TARGETS))

.PHONY: all deps unit tsan test test-gpu test-share test-gicv2 test-16k run clean fuzz fuzz-build print-fuzz-targets bench guest-kernel
all: $(BUILD)/arkvm $(BUILD)/arkvm-agent

deps: $(DEPS_STAMP)

$(DEPS_STAMP):
	@mkdir -p $(CACHE)
	@if ! dpkg -s $(APT_PACKAGES) >/dev/null 2>&1; then \
		echo "deps: installing $(APT_PACKAGES)"; \
		dpkg --add-architecture arm64 && apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
			$(APT_PACKAGES) >/dev/null; \
	fi
ifneq ($(HOST_ARCH),aarch64)
	@for lib in fdt:libfdt-dev http_parser:libhttp-parser-dev; do \
		a=$${lib%%:*}; pkg=$${lib#*:}; \
		[ -f $(SYSROOT)/usr/lib/aarch64-linux-gnu/lib$$a.a ] && continue; \
		echo "deps: unpacking $$pkg:arm64 into $(SYSROOT)"; \
		rm -rf $(CACHE)/debs-$$a && mkdir -p $(CACHE)/debs-$$a && \
		(cd $(CACHE)/debs-$$a && apt-get download -q $$pkg:arm64 2>/dev/null) && \
		dpkg -x $(CACHE)/debs-$$a/$${pkg}_*_arm64.deb $(SYSROOT) || exit 1; \
	done
endif
	@touch $@

$(BUILD)/arkvm: $(TARGET_OBJS) | $(DEPS_STAMP)
	$(TARGET_CC) -o $@ $(TARGET_OBJS) $(TARGET_LDFLAGS) $(TARGET_EXTRA_LDFLAGS) $(TARGET_LIBS)

$(BUILD)/obj/%.o: %.c | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(TARGET_CC) $(CFLAGS_COMMON) $(TARGET_CFLAGS) -c -o $@ $<

# The guest agent (agent/, $(BUILD)/arkvm-agent) as bytes in arkvm: /init of
# arkvm exec's initramfs.
$(BUILD)/obj/src/exec_agent_image.o: src/exec_agent_image.S $(BUILD)/arkvm-agent
	@mkdir -p $(dir $@)
	$(TARGET_CC) -DARKVM_AGENT='"$(BUILD)/arkvm-agent"' -c -o $@ $<

# The seccomp filters, compiled for arm64 at build time by a tool that runs
# here (src/sandbox_gen.c, with the build host's libseccomp).
TOOLS := build/tools
$(TOOLS)/sandbox-gen: src/sandbox_gen.c include/sandbox.h include/console.h | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(HOST_CC) $(CFLAGS_COMMON) -o $@ $< -lseccomp

$(BUILD)/gen/sandbox_bpf.c: $(TOOLS)/sandbox-gen
	@mkdir -p $(dir $@)
	$< > $@.tmp && mv $@.tmp $@

$(BUILD)/obj/gen/sandbox_bpf.o: $(BUILD)/gen/sandbox_bpf.c
	@mkdir -p $(dir $@)
	$(TARGET_CC) $(CFLAGS_COMMON) -c -o $@ $<

# The same filters for the build host: the unit tests load them natively.
$(NATIVE)/gen/sandbox_bpf.c: $(TOOLS)/sandbox-gen
	@mkdir -p $(dir $@)
	$< native > $@.tmp && mv $@.tmp $@

$(NATIVE)/obj/gen/sandbox_bpf.o: $(NATIVE)/gen/sandbox_bpf.c
	@mkdir -p $(dir $@)
	$(HOST_CC) $(CFLAGS_COMMON) -c -o $@ $<

$(TSAN)/obj/gen/sandbox_bpf.o: $(NATIVE)/gen/sandbox_bpf.c
	@mkdir -p $(dir $@)
	$(HOST_CC) $(CFLAGS_COMMON) -c -o $@ $<

# The static and dynamic builds share object files; relink when STATIC changes.
$(BUILD)/.static-$(STATIC):
	@mkdir -p $(BUILD) && rm -f $(BUILD)/.static-* $(BUILD)/arkvm && touch $@
$(BUILD)/arkvm: $(BUILD)/.static-$(STATIC)

# vm.c picks the GPU backends it was built with.
$(BUILD)/.gpu-$(TARGET_VIRGL)-$(TARGET_VNC):
	@mkdir -p $(BUILD) && rm -f $(BUILD)/.gpu-* && touch $@
$(BUILD)/obj/src/vm.o: $(BUILD)/.gpu-$(TARGET_VIRGL)-$(TARGET_VNC)

# TEST_HOOKS=1 (what make test builds): lets the lab make a thread break
# its seccomp filter on purpose (ARKVM_TEST_SECCOMP, src/sandbox.c).
$(BUILD)/.hooks-$(TEST_HOOKS):
	@mkdir -p $(BUILD) && rm -f $(BUILD)/.hooks-* && touch $@
# It also lets SIGUSR2 pause and resume the VM (src/lifecycle.c), until
# the API can.
HOOKED_OBJS := $(addprefix $(BUILD)/obj/src/,sandbox.o vm.o lifecycle.o)
$(HOOKED_OBJS): $(BUILD)/.hooks-$(TEST_HOOKS)
ifeq ($(TEST_HOOKS),1)
$(HOOKED_OBJS): CFLAGS_COMMON += -DARKVM_TEST_HOOKS
endif

$(NATIVE)/unit-tests: $(UNIT_OBJS)
	$(HOST_CC) $(SANITIZE) -o $@ $(UNIT_OBJS) $(NATIVE_LIBS)

$(NATIVE)/obj/%.o: %.c | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(HOST_CC) $(CFLAGS_COMMON) $(NATIVE_CFLAGS) -O1 $(SANITIZE) -Itests/unit -c -o $@ $<

$(TSAN)/unit-tests: $(TSAN_OBJS)
	$(HOST_CC) -fsanitize=thread -o $@ $(TSAN_OBJS) $(NATIVE_LIBS)

$(TSAN)/obj/%.o: %.c | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(HOST_CC) $(CFLAGS_COMMON) $(NATIVE_CFLAGS) -O1 $(TSAN_CFLAGS) -Itests/unit -c -o $@ $<

$(FUZZ)/obj/%.o: %.c | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(CFLAGS_COMMON) -O1 -fsanitize=fuzzer-no-link,address,undefined \
		-fno-sanitize-recover=all -Itests/unit -Itests/fuzz -c -o $@ $<

$(FUZZ)/obj/gen/sandbox_bpf.o: $(NATIVE)/gen/sandbox_bpf.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(CFLAGS_COMMON) -c -o $@ $<

$(FUZZ)/fuzz_%: $(FUZZ)/obj/tests/fuzz/fuzz_%.o $(FUZZ_OBJS)
	$(FUZZ_CC) -fsanitize=fuzzer,address,undefined -o $@ $^ $(LIBS)

fuzz-build: $(FUZZ_BINS)

fuzz: fuzz-build
	@tests/fuzz/run.sh $(FUZZ_SECONDS) $(FUZZ_TARGETS)

# The guest agent `arkvm exec` puts at /init of its initramfs: static, for
# arm64, whatever the build host (arkvm embeds this file).
$(BUILD)/arkvm-agent: $(AGENT_SRCS) $(wildcard agent/*.h) include/exec_agent.h \
		include/exec_proto.h | $(DEPS_STAMP)
	@mkdir -p $(@D)
	$(TARGET_CC) $(filter-out -MMD -MP,$(CFLAGS_COMMON)) -Os -static -s -o $@ $(AGENT_SRCS)

# Both ends of the lab's vsock cases: AF_VSOCK in the guest, the hybrid
# unix-socket protocol in level 1 (busybox has no vsock).
$(BUILD)/vsock-tool: tests/lab/vsock-tool.c | $(DEPS_STAMP)
	$(TARGET_CC) $(CFLAGS_COMMON) -static -o $@ $<

# The lab's PMU check in the guest: cycles through perf_event_open (busybox has no perf).
$(BUILD)/pmu-tool: tests/lab/pmu-tool.c | $(DEPS_STAMP)
	$(TARGET_CC) $(CFLAGS_COMMON) -static -o $@ $<

# The lab's HTTP client for the API cases (level 1 has no curl).
$(BUILD)/api-call: tests/lab/api-call.c | $(DEPS_STAMP)
	$(TARGET_CC) $(CFLAGS_COMMON) -static -o $@ $<

# The lab's page server for the Uffd snapshot backend (static, with jansson).
$(BUILD)/uffd-server: tests/lab/uffd-server.c | $(DEPS_STAMP)
	$(TARGET_CC) $(CFLAGS_COMMON) -static -o $@ $< $(TARGET_LDFLAGS) -ljansson

# The bench's load generator: static, for the guest and the first-level host.
$(BUILD)/loadgen: tests/bench/loadgen.c | $(DEPS_STAMP)
	$(TARGET_CC) $(CFLAGS_COMMON) -static -o $@ $< $(TARGET_LDFLAGS) -luring

# The bench's API client: starts arkvm and times its socket, PUTs and boot.
$(BUILD)/apibench: tests/bench/apibench.c tests/bench/benchproc.c tests/bench/snapbench.c \
		tests/bench/benchproc.h | $(DEPS_STAMP)
	@mkdir -p $(@D)
	$(TARGET_CC) $(filter-out -MMD -MP,$(CFLAGS_COMMON)) -static -o $@ $(filter %.c,$^)

bench: $(DEPS_STAMP)
	@$(MAKE) --no-print-directory STATIC=1 $(BUILD)/arkvm $(BUILD)/loadgen $(BUILD)/apibench \
		$(BUILD)/vsock-tool $(BUILD)/api-call
	@tests/bench/bench.sh

guest-kernel:
	@configs/build-guest-kernel.sh

print-fuzz-targets:
	@echo $(FUZZ_TARGETS)

unit: $(NATIVE)/unit-tests
	$(NATIVE)/unit-tests

# A race report fails the run (TSan's exit status 66) but lets every case finish.
tsan: $(TSAN)/unit-tests
	TSAN_OPTIONS="second_deadlock_stack=1 $(TSAN_OPTIONS)" $(TSAN)/unit-tests

test: $(DEPS_STAMP)
	@tests/run.sh

# make test-gpu: the slow --gpu virgl guest tests (tests/lab/gpu-cases.sh),
# not part of make test.  It needs an arkvm linked dynamically against arm64
# virglrenderer, built here against Debian's arm64 packages unpacked in the
# cache, and those libraries and Mesa's in the emulated host.  GL=0 leaves
# out the kmscube guest (a 200 MB initramfs).
GPU_SYSROOT := $(CACHE)/gpu-sysroot
GPU_BUILD   := build/arm64-gpu
GPU_LIBDIR  := $(GPU_SYSROOT)/usr/lib/aarch64-linux-gnu
GL          ?= 1
test-gpu: $(DEPS_STAMP)
	@tests/lab/setup.sh
	@tests/lab/gpu-setup.sh
	@$(MAKE) --no-print-directory BUILD=$(GPU_BUILD) STATIC=0 VNC=0 \
		TARGET_PKG_CONFIG="PKG_CONFIG_LIBDIR=$(GPU_LIBDIR)/pkgconfig PKG_CONFIG_SYSROOT_DIR=$(GPU_SYSROOT) pkg-config" \
		TARGET_EXTRA_LDFLAGS="-Wl,-rpath-link,$(GPU_LIBDIR) -Wl,-rpath-link,$(GPU_SYSROOT)/lib/aarch64-linux-gnu" \
		$(GPU_BUILD)/arkvm
	@$(TARGET_CC) $(CFLAGS_COMMON) -o $(GPU_BUILD)/png-box tests/lab/png-box.c -lpng16
	@tests/lab/build-guest.sh
	@GL=$(GL) tests/lab/gpu-setup.sh $(GPU_BUILD)/arkvm
	@LAB_CASES=tests/lab/gpu-cases.sh LAB_GPU=1 LAB_TREE=$(CACHE)/gpu-tree \
		LAB_FILES="$(GPU_BUILD)/png-box $(if $(filter 1,$(GL)),$(CACHE)/guest-gl.cpio)" \
		ARKVM_BIN=$(GPU_BUILD)/arkvm tests/lab/lab.sh test

# make test-share: git, make and a C compiler (Debian's, with tcc) on a
# directory booted as the guest's root over virtio-fs (tests/lab/share-cases.sh);
# not part of make test: the tree is a few hundred MiB.
test-share: $(DEPS_STAMP)
	@tests/lab/setup.sh
	@$(MAKE) --no-print-directory STATIC=1 $(BUILD)/arkvm
	@tests/lab/build-guest.sh
	@tests/lab/share-tree.sh
	@LAB_CASES=tests/lab/share-cases.sh LAB_TREE=$(CACHE)/share-tree \
		ARKVM_BIN=$(BUILD)/arkvm tests/lab/lab.sh test

# make test-gicv2, make test-16k: a 2-vCPU guest's interrupt controller,
# disk and network (tests/lab/host-cases.sh) on a level 1 with a GICv2, or
# booting Debian's 16K-page kernel; not part of make test.
test-gicv2: $(DEPS_STAMP)
	@tests/lab/setup.sh
	@$(MAKE) --no-print-directory STATIC=1 $(BUILD)/arkvm
	@LAB_GIC=2 LAB_CASES=tests/lab/host-cases.sh ARKVM_BIN=$(BUILD)/arkvm tests/lab/lab.sh test

test-16k: $(DEPS_STAMP)
	@LAB_KERNEL=16k tests/lab/setup.sh
	@$(MAKE) --no-print-directory STATIC=1 $(BUILD)/arkvm
	@LAB_KERNEL=16k LAB_CASES=tests/lab/host-cases.sh ARKVM_BIN=$(BUILD)/arkvm tests/lab/lab.sh test

run: $(DEPS_STAMP)
	@$(MAKE) --no-print-directory STATIC=1 $(BUILD)/arkvm
	@ARKVM_BIN=$(BUILD)/arkvm tests/lab/lab.sh run $(ARGS)

# make install: what make built (STATIC=1 and the others are choices made
# when building), never built here, so that "sudo make install" does not
# rebuild as root with root's cache. ARKVM_BIN names another binary.
PREFIX           ?= /usr/local
ARKVM_BIN        ?= $(BUILD)/arkvm
FIRECRACKER_LINK ?= 0
INSTALL_BINDIR   := $(DESTDIR)$(PREFIX)/bin
INSTALL_MANDIR   := $(DESTDIR)$(PREFIX)/share/man/man1
INSTALL_SHAREDIR := $(DESTDIR)$(PREFIX)/share/arkvm
INSTALL_CONFIGS  := $(notdir $(wildcard configs/*.json))

.PHONY: install uninstall
install:
	@[ -f "$(ARKVM_BIN)" ] || { echo "install: no $(ARKVM_BIN); build it first (make, or make STATIC=1)"; exit 1; }
	install -D -m 0755 "$(ARKVM_BIN)" "$(INSTALL_BINDIR)/arkvm"
	install -D -m 0644 docs/arkvm.1 "$(INSTALL_MANDIR)/arkvm.1"
	$(foreach f,$(INSTALL_CONFIGS),install -D -m 0644 configs/$(f) "$(INSTALL_SHAREDIR)/$(f)";)
ifeq ($(FIRECRACKER_LINK),1)
	@# A real Firecracker already installed there is left alone.
	@l="$(INSTALL_BINDIR)/firecracker"; \
	if [ -e "$$l" ] || [ -L "$$l" ]; then \
		case "$$(readlink "$$l")" in arkvm|*/arkvm) ;; \
		*) echo "install: $$l exists and is not a link to arkvm; left alone"; exit 1;; esac; \
	fi; \
	echo "ln -sfn arkvm $$l"; ln -sfn arkvm "$$l"
endif

# Removes what make install put there: the link only while it still points
# to arkvm, share/arkvm only once it is empty.
uninstall:
	rm -f "$(INSTALL_BINDIR)/arkvm" "$(INSTALL_MANDIR)/arkvm.1"
	$(foreach f,$(INSTALL_CONFIGS),rm -f "$(INSTALL_SHAREDIR)/$(f)";)
	@l="$(INSTALL_BINDIR)/firecracker"; \
	case "$$(readlink "$$l")" in arkvm|*/arkvm) echo "rm -f $$l"; rm -f "$$l";; esac
	@if [ -d "$(INSTALL_SHAREDIR)" ]; then rmdir --ignore-fail-on-non-empty "$(INSTALL_SHAREDIR)"; fi

clean:
	rm -rf build

-include $(TARGET_OBJS:.o=.d) $(UNIT_OBJS:.o=.d) $(TSAN_OBJS:.o=.d) $(FUZZ_OBJS:.o=.d) \
         $(patsubst $(FUZZ)/fuzz_%,$(FUZZ)/obj/tests/fuzz/fuzz_%.d,$(FUZZ_BINS))
