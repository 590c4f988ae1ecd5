// SPDX-License-Identifier: Apache-2.0
/*
 * Which kernel modules arkvm exec's guest needs, in the order to load
 * them.  depmod's modules.dep says what each module needs; a kernel
 * package unpacked without running depmod (the lab's, Debian's .deb) has
 * none, and then modules.order names the modules and each one's own
 * .modinfo section says what it depends on.  Either way the walk is the
 * same: depth first, dependencies before the module, each once.
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
#include "log.h"

#define MOD_NAME_MAX   64
#define MOD_MAX_FILE   (64u << 20)  /* no module is near this */
#define MOD_MAX_DEPTH  32

enum mod_state { MOD_NEW, MOD_VISITING, MOD_DONE };

struct mod {
	char *path;              /* relative to the modules dir */
	char name[MOD_NAME_MAX]; /* '-' read as '_', as the kernel does */
	char *deps;              /* names, comma-separated; NULL: not read yet */
	enum mod_state state;
};

struct mod_table {
	const char *dir;
	struct mod *mods;
	unsigned int nr, cap;
};

/* "kernel/fs/fuse/virtio-fs.ko.xz" -> "virtio_fs" */
static void mod_name(const char *path, size_t len, char name[MOD_NAME_MAX])
{
	const char *base = path, *ko;
	size_t n;

	for (size_t i = 0; i < len; i++)
		if (path[i] == '/')
			base = path + i + 1;
	n = len - (size_t)(base - path);
	ko = memmem(base, n, ".ko", 3);
	if (ko)
		n = (size_t)(ko - base);
	n = MIN(n, MOD_NAME_MAX - 1);
	for (size_t i = 0; i < n; i++)
		name[i] = base[i] == '-' ? '_' : base[i];
	name[n] = '\0';
}

static struct mod *mod_find(struct mod_table *t, const char *name)
{
	for (unsigned int i = 0; i < t->nr; i++)
		if (!strcmp(t->mods[i].name, name))
			return &t->mods[i];
	return NULL;
}

static int mod_add(struct mod_table *t, const char *path, size_t len, char *deps)
{
	struct mod *m;

	if (t->nr == t->cap) {
		unsigned int cap = t->cap ? t->cap * 2 : 256;
		struct mod *mods = realloc(t->mods, cap * sizeof(*mods));

		if (!mods)
			return -ENOMEM;
		t->mods = mods;
		t->cap = cap;
	}
	m = &t->mods[t->nr];
	m->path = strndup(path, len);
	if (!m->path)
		return -ENOMEM;
	mod_name(path, len, m->name);
	m->deps = deps;
	m->state = MOD_NEW;
	t->nr++;
	return 0;
}

/* modules.dep's "DEP DEP ..." as names, comma-separated. */
static char *dep_names(const char *list)
{
	size_t cap = strlen(list) + 2, used = 0;
	char *out = malloc(cap);

	if (!out)
		return NULL;
	out[0] = '\0';
	while (*list) {
		size_t len;
		char name[MOD_NAME_MAX];

		list += strspn(list, " \t");
		len = strcspn(list, " \t");
		if (!len)
			break;
		mod_name(list, len, name);
		used += (size_t)snprintf(out + used, cap - used, "%s%s", used ? "," : "", name);
		list += len;
	}
	return out;
}

/* One line of modules.dep ("PATH: DEP DEP") or of modules.order ("PATH"). */
static int mod_line(struct mod_table *t, char *line, bool has_deps)
{
	char *colon, *deps = NULL;

	line[strcspn(line, "\n")] = '\0';
	colon = strchr(line, ':');
	if (has_deps != (colon != NULL) || !*line)
		return 0;       /* not a line of this file's form: ignored */
	if (colon) {
		deps = dep_names(colon + 1);
		if (!deps)
			return -ENOMEM;
	}
	if (mod_add(t, line, colon ? (size_t)(colon - line) : strlen(line), deps)) {
		free(deps);
		return -ENOMEM;
	}
	return 0;
}

static int mod_read_list(struct mod_table *t, const char *file, bool has_deps)
{
	char path[CFG_MAX_PATH + 32], *line = NULL;
	size_t cap = 0;
	int ret = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", t->dir, file);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (!ret && getline(&line, &cap, f) > 0)
		ret = mod_line(t, line, has_deps);
	free(line);
	fclose(f);
	return ret;
}

/* The "depends=" of an ELF64 module's .modinfo; "" when it has none or is unreadable. */
static char *modinfo_depends(const u8 *elf, size_t size)
{
	const Elf64_Ehdr *eh = (const void *)elf;
	const Elf64_Shdr *sh, *strtab;

	if (size < sizeof(*eh) || memcmp(eh->e_ident, ELFMAG, SELFMAG) ||
	    eh->e_ident[EI_CLASS] != ELFCLASS64 || eh->e_shentsize != sizeof(*sh) ||
	    eh->e_shoff > size || eh->e_shnum > (size - eh->e_shoff) / sizeof(*sh) ||
	    eh->e_shstrndx >= eh->e_shnum)
		return strdup("");
	sh = (const void *)(elf + eh->e_shoff);
	strtab = &sh[eh->e_shstrndx];
	if (strtab->sh_offset > size || strtab->sh_size > size - strtab->sh_offset)
		return strdup("");
	for (unsigned int i = 0; i < eh->e_shnum; i++) {
		const char *p, *end;

		if (sh[i].sh_name >= strtab->sh_size ||
		    strncmp((const char *)elf + strtab->sh_offset + sh[i].sh_name, ".modinfo",
			    MIN(9, strtab->sh_size - sh[i].sh_name)) ||
		    sh[i].sh_offset > size || sh[i].sh_size > size - sh[i].sh_offset)
			continue;
		p = (const char *)elf + sh[i].sh_offset;
		end = p + sh[i].sh_size;
		while (p < end) {
			size_t len = strnlen(p, (size_t)(end - p));

			if (len < (size_t)(end - p) && !strncmp(p, "depends=", 8))
				return strdup(p + 8);
			p += len + 1;
		}
	}
	return strdup("");
}

static int mod_read_deps(struct mod_table *t, struct mod *m)
{
	char path[CFG_MAX_PATH * 2 + 2];
	struct stat st;
	u8 *buf = NULL;
	int fd, ret = 0;

	snprintf(path, sizeof(path), "%s/%s", t->dir, m->path);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0 && !fstat(fd, &st) && st.st_size > 0 && (u64)st.st_size <= MOD_MAX_FILE) {
		buf = malloc((size_t)st.st_size);
		if (buf && pread(fd, buf, (size_t)st.st_size, 0) == st.st_size)
			m->deps = modinfo_depends(buf, (size_t)st.st_size);
	}
	if (!m->deps)
		m->deps = strdup("");   /* compressed or unreadable: the load will say */
	if (!m->deps)
		ret = -ENOMEM;
	free(buf);
	if (fd >= 0)
		close(fd);
	return ret;
}

static int mod_visit(struct mod_table *t, const char *name, unsigned int depth,
		     struct exec_modlist *out)
{
	struct mod *m = mod_find(t, name);
	const char *p;
	int ret;

	if (!m || m->state == MOD_DONE)
		return 0;               /* built in, or not built: nothing to load */
	if (m->state == MOD_VISITING || depth > MOD_MAX_DEPTH)
		return 0;               /* a cycle: depmod would refuse it too */
	m->state = MOD_VISITING;
	if (!m->deps && (ret = mod_read_deps(t, m)))
		return ret;
	for (p = m->deps; *p; ) {
		char dep[MOD_NAME_MAX];
		size_t len = strcspn(p, ",");

		mod_name(p, len, dep);
		/* @m may move if the table grew: it never does during the walk. */
		ret = len ? mod_visit(t, dep, depth + 1, out) : 0;
		if (ret)
			return ret;
		p += len + (p[len] == ',');
	}
	m->state = MOD_DONE;
	if (out->nr == EXEC_MAX_MODULES)
		return -E2BIG;
	out->paths[out->nr] = strdup(m->path);
	return out->paths[out->nr++] ? 0 : -ENOMEM;
}

static void mod_table_free(struct mod_table *t)
{
	for (unsigned int i = 0; i < t->nr; i++) {
		free(t->mods[i].path);
		free(t->mods[i].deps);
	}
	free(t->mods);
}

int exec_modules_resolve(const char *dir, const char *const *names, unsigned int nr_names,
			 struct exec_modlist *out)
{
	struct mod_table t = { .dir = dir };
	int ret;

	memset(out, 0, sizeof(*out));
	ret = mod_read_list(&t, "modules.dep", true);
	if (ret == -ENOENT)
		ret = mod_read_list(&t, "modules.order", false);
	for (unsigned int i = 0; !ret && i < nr_names; i++) {
		char name[MOD_NAME_MAX];

		mod_name(names[i], strlen(names[i]), name);
		ret = mod_visit(&t, name, 0, out);
	}
	mod_table_free(&t);
	if (ret)
		exec_modlist_free(out);
	return ret;
}

void exec_modlist_free(struct exec_modlist *l)
{
	for (unsigned int i = 0; i < l->nr; i++)
		free(l->paths[i]);
	l->nr = 0;
}
