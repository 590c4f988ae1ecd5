// SPDX-License-Identifier: Apache-2.0
/*
 * arkvm exec's host side without a VM: the command line and its 125
 * refusals, the config and RUN it makes, the exit statuses, the cpio
 * writer (read back by the build host's cpio) and the module order.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "exec.h"
#include "test.h"

#define ARGS(...) (int)(sizeof((char *const[]){ __VA_ARGS__ }) / sizeof(char *)), \
	(char *const[]){ __VA_ARGS__ }

static int parse(struct exec_opts *o, int argc, char *const argv[])
{
	FILE *out = fopen("/dev/null", "w");
	int ret = exec_parse(argc, argv, o, out);

	fclose(out);
	return ret;
}

static void test_exec_parse_full(void)
{
	struct exec_opts *o = malloc(sizeof(*o));
	struct exec_run *run = malloc(sizeof(*run));
	struct exec_run_scratch sc;

	/* o->argv points into it: it must outlive the checks. */
	char *const av[] = { "arkvm", "exec", "--kernel", "/k", "--rootfs=/r", "--env", "A=1",
			     "--user", "1000:100", "--timeout", "5", "--tty",
			     "--share", "/tmp:/w,readonly", "--workdir", "/w", "--",
			     "sh", "-c", "exit 7" };

	CHECK(o && run);
	CHECK_EQ(parse(o, ARRAY_SIZE(av), av), 0);
	CHECK(!strcmp(o->kernel, "/k") && !strcmp(o->rootfs, "/r") && !o->image);
	CHECK(o->has_user && o->uid == 1000 && o->gid == 100);
	CHECK(o->timeout_s == 5 && o->tty && o->nr_env == 1 && !strcmp(o->env[0], "A=1"));
	CHECK(o->nr_shares == 1 && !strcmp(o->shares[0].host, "/tmp") &&
	      !strcmp(o->shares[0].guest, "/w") && o->shares[0].readonly);
	CHECK(o->argc == 3 && !strcmp(o->argv[0], "sh") && !strcmp(o->argv[2], "exit 7"));
	exec_make_run(o, run, &sc);
	CHECK(run->argc == 3 && run->envc == 1 && run->uid == 1000 && run->gid == 100 && run->tty);
	CHECK(!strcmp(run->cwd, "/w") && run->nr_mounts == 1);
	CHECK(!strcmp(run->mounts[0].tag, "s0") && !strcmp(run->mounts[0].path, "/w") &&
	      run->mounts[0].readonly);
	free(o);
	free(run);
}

/* No GUEST path: the share mounts where it is on the host, made absolute. */
static void test_exec_parse_share_default(void)
{
	struct exec_opts *o = malloc(sizeof(*o));
	char *const av[] = { "arkvm", "exec", "--kernel", "/k", "--image", "/i.qcow2",
			     "--share", ".", "true" };
	char cwd[4096];

	CHECK(o && getcwd(cwd, sizeof(cwd)));
	CHECK_EQ(parse(o, ARRAY_SIZE(av), av), 0);
	CHECK(!strcmp(o->shares[0].guest, cwd) && !o->shares[0].readonly);
	CHECK(o->argc == 1 && !strcmp(o->argv[0], "true"));
	free(o);
}

/* Each of these is arkvm exec's exit 125: one line, no VM. */
static void test_exec_parse_errors(void)
{
	struct exec_opts *o = malloc(sizeof(*o));

	CHECK(o);
	CHECK_EQ(parse(o, ARGS("arkvm", "exec", "--kernel", "/k", "--rootfs", "/r")), -EINVAL);
	CHECK_EQ(parse(o, ARGS("arkvm", "exec", "--kernel", "/k", "--rootfs", "/r", "--image",
			       "/i", "--", "true")), -EINVAL);
	CHECK_EQ(parse(o, ARGS("arkvm", "exec", "--kernel", "/k", "--", "true")), -EINVAL);
	CHECK_EQ(parse(o, ARGS("arkvm", "exec", "--bogus", "--rootfs", "/r", "--", "true")),
		 -EINVAL);
	CHECK_EQ(parse(o, ARGS("arkvm", "exec", "--kernel", "/k", "--rootfs", "/r", "--user",
			       "root", "--", "true")), -EINVAL);
	CHECK_EQ(parse(o, ARGS("arkvm", "exec", "--kernel", "/k", "--rootfs", "/r", "--timeout",
			       "0", "--", "true")), -EINVAL);
	CHECK_EQ(parse(o, ARGS("arkvm", "exec", "--kernel", "/k", "--rootfs", "/r", "--env",
			       "NOEQ", "--", "true")), -EINVAL);
	CHECK_EQ(parse(o, ARGS("arkvm", "exec", "--kernel", "/k", "--rootfs", "/r", "--net",
			       "tap=t0", "--", "true")), -EINVAL);
	CHECK_EQ(parse(o, ARGS("arkvm", "exec", "--kernel", "/k", "--rootfs", "/r", "--share",
			       "/a:rel", "--", "true")), -EINVAL);
	CHECK_EQ(parse(o, ARGS("arkvm", "exec", "--kernel", "/k", "--rootfs", "/r", "--share",
			       "/a,cache=never", "--", "true")), -EINVAL);
	CHECK_EQ(parse(o, ARGS("arkvm", "exec", "--kernel", "/k", "--rootfs", "/r", "--warm",
			       "/c", "--warm", "/d", "--", "true")), -EINVAL);
	CHECK_EQ(parse(o, ARGS("arkvm", "exec", "--kernel", "/k", "--rootfs", "/r", "--warm",
			       "", "--", "true")), -EINVAL);
	CHECK_EQ(parse(o, ARGS("arkvm", "exec", "--kernel", "/k", "--rootfs", "/r", "--warm",
			       "/c", "--", "true")), 0);
	CHECK(!strcmp(o->warm, "/c"));
	CHECK_EQ(parse(o, ARGS("arkvm", "exec", "--kernel", "/k", "--kernel", "/k2", "--rootfs",
			       "/r", "--", "true")), -EINVAL);
	CHECK_EQ(parse(o, ARGS("arkvm", "exec", "--tty=1", "--rootfs", "/r", "--", "true")),
		 -EINVAL);
	CHECK_EQ(parse(o, ARGS("arkvm", "exec", "--timeout")), -EINVAL);
	CHECK_EQ(parse(o, ARGS("arkvm", "exec", "--help")), EXEC_PARSE_HELP);
	free(o);
}

/* The VM: arkvm run's parser checked it; the root share or the ephemeral disk. */
static void test_exec_vm_config(void)
{
	struct exec_opts *o = malloc(sizeof(*o));
	struct vm_config *cfg = malloc(sizeof(*cfg));

	CHECK(o && cfg);
	CHECK_EQ(parse(o, ARGS("arkvm", "exec", "--kernel", "/k", "--rootfs", "/r", "--cpus", "2",
			       "--memory", "512M", "--share", "/tmp:/w,readonly", "--net", "user",
			       "--", "true")), 0);
	CHECK_EQ(exec_vm_config(o, "/t/initrd", "/t/vsock", cfg), 0);
	CHECK(!strcmp(cfg->kernel, "/k") && !strcmp(cfg->initrd, "/t/initrd"));
	CHECK(cfg->nr_cpus == 2 && cfg->mem_size == 512 * SZ_1M);
	CHECK(cfg->vsock.enabled && cfg->vsock.cid == 3 && !strcmp(cfg->vsock.uds_path, "/t/vsock"));
	CHECK(cfg->nr_shares == 2 && !strcmp(cfg->shares[0].tag, "root") &&
	      !strcmp(cfg->shares[0].path, "/r") && !cfg->shares[0].readonly);
	CHECK(!strcmp(cfg->shares[1].tag, "s0") && cfg->shares[1].readonly);
	CHECK(cfg->nr_nets == 1 && cfg->nets[0].kind == NET_USER && !cfg->nr_disks);
	CHECK(strstr(cfg->cmdline, "arkvm.root=virtiofs:root"));

	CHECK_EQ(parse(o, ARGS("arkvm", "exec", "--kernel", "/k", "--image", "/i.img", "true")), 0);
	CHECK_EQ(exec_vm_config(o, "/t/initrd", "/t/vsock", cfg), 0);
	CHECK(cfg->nr_disks == 1 && cfg->disks[0].ephemeral && !strcmp(cfg->disks[0].path, "/i.img"));
	CHECK(!cfg->nr_shares && strstr(cfg->cmdline, "arkvm.root=blk:/dev/vda"));

	/* What arkvm run refuses, exec refuses too. */
	CHECK_EQ(parse(o, ARGS("arkvm", "exec", "--kernel", "/k", "--image", "/i", "--memory",
			       "lots", "true")), 0);
	CHECK_EQ(exec_vm_config(o, "/t/initrd", "/t/vsock", cfg), -EINVAL);
	CHECK_EQ(parse(o, ARGS("arkvm", "exec", "--kernel", "/k", "--image", "/i,x", "true")), 0);
	CHECK_EQ(exec_vm_config(o, "/t/initrd", "/t/vsock", cfg), -EINVAL);
	free(o);
	free(cfg);
}

static void write_file(const char *dir, const char *name, const void *data, size_t len)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	for (char *s = strchr(path + strlen(dir) + 1, '/'); s; s = strchr(s + 1, '/')) {
		*s = '\0';
		mkdir(path, 0755);
		*s = '/';
	}
	f = fopen(path, "w");
	if (f) {
		fwrite(data, 1, len, f);
		fclose(f);
	}
}

#define WRITE_STR(dir, name, s) write_file(dir, name, s, strlen(s))

/* A fake Debian-style tree: modules.dep, out of order, with a cycle and a stranger. */
static void fake_dep_tree(const char *dir)
{
	WRITE_STR(dir, "modules.dep",
		  "kernel/net/vmw_vsock/vmw_vsock_virtio_transport.ko: "
		  "kernel/net/vmw_vsock/vmw_vsock_virtio_transport_common.ko "
		  "kernel/net/vmw_vsock/vsock.ko\n"
		  "kernel/fs/fuse/virtiofs.ko: kernel/fs/fuse/fuse.ko\n"
		  "kernel/net/vmw_vsock/vmw_vsock_virtio_transport_common.ko: "
		  "kernel/net/vmw_vsock/vsock.ko\n"
		  "kernel/net/vmw_vsock/vsock.ko:\n"
		  "kernel/fs/fuse/fuse.ko:\n"
		  "kernel/drivers/net/virtio_net.ko: kernel/drivers/net/net_failover.ko\n"
		  "kernel/drivers/net/net_failover.ko: kernel/net/core/failover.ko\n"
		  "kernel/net/core/failover.ko: kernel/drivers/net/net_failover.ko\n"
		  "kernel/sound/unrelated.ko:\n");
	WRITE_STR(dir, "kernel/fs/fuse/fuse.ko", "FUSE");
	WRITE_STR(dir, "kernel/fs/fuse/virtiofs.ko", "VIRTIOFS");
	WRITE_STR(dir, "kernel/net/vmw_vsock/vsock.ko", "VSOCK");
	WRITE_STR(dir, "kernel/net/vmw_vsock/vmw_vsock_virtio_transport_common.ko", "COMMON");
	WRITE_STR(dir, "kernel/net/vmw_vsock/vmw_vsock_virtio_transport.ko", "TRANSPORT");
	WRITE_STR(dir, "kernel/drivers/net/virtio_net.ko", "NET");
	WRITE_STR(dir, "kernel/drivers/net/net_failover.ko", "NETFO");
	WRITE_STR(dir, "kernel/net/core/failover.ko", "FO");
}

static int index_of(const struct exec_modlist *l, const char *suffix)
{
	for (unsigned int i = 0; i < l->nr; i++) {
		size_t a = strlen(l->paths[i]), b = strlen(suffix);

		if (a >= b && !strcmp(l->paths[i] + a - b, suffix))
			return (int)i;
	}
	return -1;
}

static void test_exec_modules_dep(void)
{
	static const char *const names[] = { "virtiofs", "vmw_vsock_virtio_transport", "vsock",
					     "virtio-net", "ext4" };
	char dir[] = "/tmp/arkvm-test-mods.XXXXXX";
	struct exec_modlist l;

	CHECK(mkdtemp(dir));
	fake_dep_tree(dir);
	CHECK_EQ(exec_modules_resolve(dir, names, ARRAY_SIZE(names), &l), 0);
	/* ext4 is built in (not listed): skipped; the stranger is left out; each once. */
	CHECK_EQ(l.nr, 8);
	CHECK(index_of(&l, "/fuse.ko") < index_of(&l, "/virtiofs.ko"));
	CHECK(index_of(&l, "/vsock.ko") < index_of(&l, "/vmw_vsock_virtio_transport_common.ko"));
	CHECK(index_of(&l, "_common.ko") < index_of(&l, "/vmw_vsock_virtio_transport.ko"));
	CHECK(index_of(&l, "/net_failover.ko") < index_of(&l, "/virtio_net.ko"));
	CHECK(index_of(&l, "/failover.ko") >= 0 && index_of(&l, "unrelated.ko") < 0);
	CHECK(!strcmp(l.paths[0], "kernel/fs/fuse/fuse.ko"));
	exec_modlist_free(&l);
	{
		char cmd[128];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		CHECK_EQ(system(cmd), 0);
	}
}

/* A minimal ELF64 module: a .modinfo section with @depends. */
static size_t fake_module(u8 *buf, const char *depends)
{
	static const char shstr[] = "\0.shstrtab\0.modinfo";
	Elf64_Ehdr *eh = (Elf64_Ehdr *)buf;
	Elf64_Shdr *sh;
	size_t off = sizeof(*eh), info_len;
	char info[256];

	memset(buf, 0, 4096);
	info_len = (size_t)snprintf(info, sizeof(info), "license=GPL%cdepends=%s%cname=x",
				    0, depends, 0) + 1;
	memcpy(eh->e_ident, ELFMAG, SELFMAG);
	eh->e_ident[EI_CLASS] = ELFCLASS64;
	eh->e_ident[EI_DATA] = ELFDATA2LSB;
	memcpy(buf + off, shstr, sizeof(shstr));
	memcpy(buf + off + sizeof(shstr), info, info_len);
	eh->e_shoff = ALIGN_UP(off + sizeof(shstr) + info_len, 8);
	eh->e_shentsize = sizeof(Elf64_Shdr);
	eh->e_shnum = 3;
	eh->e_shstrndx = 1;
	sh = (Elf64_Shdr *)(buf + eh->e_shoff);
	sh[1] = (Elf64_Shdr){ .sh_name = 1, .sh_offset = off, .sh_size = sizeof(shstr) };
	sh[2] = (Elf64_Shdr){ .sh_name = 11, .sh_offset = off + sizeof(shstr), .sh_size = info_len };
	return eh->e_shoff + 3 * sizeof(Elf64_Shdr);
}

/* No modules.dep (a kernel package unpacked without depmod): modules.order and .modinfo. */
static void test_exec_modules_modinfo(void)
{
	static const char *const names[] = { "virtiofs", "virtio_blk" };
	char dir[] = "/tmp/arkvm-test-mods.XXXXXX", cmd[128];
	u8 *elf = malloc(4096);
	struct exec_modlist l;
	size_t len;

	CHECK(elf && mkdtemp(dir));
	WRITE_STR(dir, "modules.order", "kernel/fs/fuse/fuse.ko\nkernel/fs/fuse/virtiofs.ko\n"
		  "kernel/drivers/block/virtio_blk.ko\n");
	len = fake_module(elf, "fuse,virtio,virtio_ring");
	write_file(dir, "kernel/fs/fuse/virtiofs.ko", elf, len);
	len = fake_module(elf, "");
	write_file(dir, "kernel/fs/fuse/fuse.ko", elf, len);
	/* A module that is no ELF: no dependencies known, still loaded. */
	WRITE_STR(dir, "kernel/drivers/block/virtio_blk.ko", "not an elf");
	CHECK_EQ(exec_modules_resolve(dir, names, ARRAY_SIZE(names), &l), 0);
	CHECK_EQ(l.nr, 3);
	CHECK(!strcmp(l.paths[0], "kernel/fs/fuse/fuse.ko"));
	CHECK(!strcmp(l.paths[1], "kernel/fs/fuse/virtiofs.ko"));
	CHECK(!strcmp(l.paths[2], "kernel/drivers/block/virtio_blk.ko"));
	exec_modlist_free(&l);
	/* Neither list: an error the user is told about. */
	snprintf(cmd, sizeof(cmd), "rm -f %s/modules.order", dir);
	CHECK_EQ(system(cmd), 0);
	CHECK_EQ(exec_modules_resolve(dir, names, ARRAY_SIZE(names), &l), -ENOENT);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	CHECK_EQ(system(cmd), 0);
	free(elf);
}

static bool file_is(const char *path, const char *want)
{
	char buf[1024] = "";
	FILE *f = fopen(path, "r");
	size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;

	if (f)
		fclose(f);
	buf[n] = '\0';
	return !strcmp(buf, want);
}

/* The archive, unpacked by the build host's cpio: what the kernel will see. */
static void test_exec_initramfs_cpio(void)
{
	char mods[] = "/tmp/arkvm-test-mods.XXXXXX", out[] = "/tmp/arkvm-test-cpio.XXXXXX";
	char cpio[128], cmd[512], path[256];
	struct stat st;
	int fd;

	CHECK(mkdtemp(mods) && mkdtemp(out));
	fake_dep_tree(mods);
	snprintf(cpio, sizeof(cpio), "%s.cpio", out);
	fd = open(cpio, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	CHECK(fd >= 0);
	CHECK_EQ(exec_write_initramfs(fd, (const u8 *)"AGENT", 5, mods), 0);
	close(fd);
	/* The listing: cpio -t reads every header and the trailer. */
	snprintf(cmd, sizeof(cmd), "cpio -t --quiet < %s > %s/list", cpio, mods);
	CHECK_EQ(system(cmd), 0);
	snprintf(path, sizeof(path), "%s/list", mods);
	CHECK(stat(path, &st) == 0 && st.st_size > 0);
	/* Not root here: everything but the console's device node. */
	snprintf(cmd, sizeof(cmd), "cd %s && cpio -i -d --quiet --nonmatching 'dev/console' < %s",
		 out, cpio);
	CHECK_EQ(system(cmd), 0);
	snprintf(path, sizeof(path), "%s/init", out);
	CHECK(file_is(path, "AGENT") && !stat(path, &st) && (st.st_mode & 0111));
	snprintf(path, sizeof(path), "%s/lib/modules/kernel/fs/fuse/virtiofs.ko", out);
	CHECK(file_is(path, "VIRTIOFS"));
	snprintf(path, sizeof(path), "%s/lib/modules/kernel/net/vmw_vsock/vsock.ko", out);
	CHECK(file_is(path, "VSOCK"));
	snprintf(path, sizeof(path), "%s/modules.list", out);
	CHECK(file_is(path, "kernel/fs/fuse/fuse.ko\n"
		      "kernel/fs/fuse/virtiofs.ko\n"
		      "kernel/net/vmw_vsock/vsock.ko\n"
		      "kernel/net/vmw_vsock/vmw_vsock_virtio_transport_common.ko\n"
		      "kernel/net/vmw_vsock/vmw_vsock_virtio_transport.ko\n"
		      "kernel/net/core/failover.ko\n"
		      "kernel/drivers/net/net_failover.ko\n"
		      "kernel/drivers/net/virtio_net.ko\n"));
	snprintf(path, sizeof(path), "%s/proc", out);
	CHECK(!stat(path, &st) && S_ISDIR(st.st_mode));
	snprintf(cmd, sizeof(cmd), "rm -rf %s %s %s", mods, out, cpio);
	CHECK_EQ(system(cmd), 0);
}

TEST_SUITE(exec,
	TEST(test_exec_parse_full),
	TEST(test_exec_parse_share_default),
	TEST(test_exec_parse_errors),
	TEST(test_exec_vm_config),
	TEST(test_exec_modules_dep),
	TEST(test_exec_modules_modinfo),
	TEST(test_exec_initramfs_cpio),
);
