/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What apibench's modes share: arkvm started as a child with its console
 * and stderr on pipes (scanned for markers the moment bytes arrive), HTTP
 * over its API socket, and its smaps.  Single-threaded: each call drains
 * the pipes while it waits, so the markers' times are the bytes' own.
 */
#ifndef ARKVM_BENCHPROC_H
#define ARKVM_BENCHPROC_H

#include <sys/types.h>

#define STREAM_BUF	16384
#define DEADLINE_S	300.0	/* a boot in the lab takes seconds; a hang, forever */

#define TIMER_LINE	"arkvm: boot-timer: start to first KVM_RUN"
#define IDLE_MARK	"ARKVM-IDLE"
#define COUNT_MARK	"COUNT "	/* a counting guest's line: "COUNT <n>" */

/* One of arkvm's output pipes, kept whole lines at a time (the tail). */
struct stream {
	int fd;
	size_t len;
	char buf[STREAM_BUF];
};

struct child {
	pid_t pid;
	double t0;          /* just before fork(): the process's start */
	struct stream out;  /* the guest's console */
	struct stream err;  /* arkvm's messages */
	double timer_at;    /* when the boot timer's line arrived; 0 until then */
	double timer_total; /* the line's own "total" (ms) */
	double idle_at;     /* when ARKVM-IDLE arrived */
	double count_at;    /* when the first line starting "COUNT " arrived */
};

/* From smaps: the whole process, and its largest mapping (guest RAM). */
struct mem {
	unsigned long total_kib;    /* every mapping's Rss */
	unsigned long pss_kib;      /* every mapping's Pss */
	unsigned long largest_kib;  /* the largest mapping's Rss: guest RAM, when there is a VM */
	unsigned long largest_pss_kib;
	unsigned long largest_anon_kib; /* its Anonymous: pages written (copied) */
	unsigned long stack_kib;    /* the mapping that holds @sp */
	unsigned long stack_size_kib;
};

double now(void);
/* "APIBENCH NAME VALUE UNIT" on stdout. */
void figure(const char *name, double value, const char *unit);
/* Why the run failed, with the end of @c's output (@c may be NULL). */
void complain(const struct child *c, const char *what);

/*
 * Runs @argv with stdin from @input (NULL: /dev/null) and stdout, stderr
 * on pipes; @c->t0 is taken just before the fork.
 */
int spawn(struct child *c, char **argv, const char *input);
/*
 * Drains @c's pipes until @fd is readable (fd -1: until @done says so)
 * or @deadline.  0, or -ETIMEDOUT, or -EPIPE when arkvm closed both.
 */
int wait_for(struct child *c, int fd, int (*done)(const struct child *), double deadline);
int timer_seen(const struct child *c);
int idle_seen(const struct child *c);
int count_seen(const struct child *c);
/* Sleeps @s seconds, still draining the pipes. */
void settle(struct child *c, double s);
/* SIGTERM, then the exit status; the rest of the output is drained first. */
void stop(struct child *c);

/* @pid's smaps summed up; @sp (0: none) picks the mapping for stack_kib. */
int read_smaps(pid_t pid, unsigned long sp, struct mem *m);

/*
 * Waits for @sock to accept (60 s from the start), then for its first
 * answer: the fd, or -1.  With @report, both times are figures.
 */
int wait_ready(struct child *c, const char *sock, int report);
/* One request on the keep-alive connection @fd and its whole answer: the status, or -1. */
int http_call(struct child *c, int fd, const char *method, const char *path, const char *body);
/* Whether @s can go between JSON quotes as it is. */
int json_safe(const char *s);

/* apibench snap: snapshot create, load and restore against a cold boot (snapbench.c). */
int run_snap(char **args, char **argv);

#endif
