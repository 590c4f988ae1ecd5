/* SPDX-License-Identifier: Apache-2.0 */
#ifndef ARKVM_VM_STATE_H
#define ARKVM_VM_STATE_H

#include <pthread.h>
#include <stdbool.h>

#include "event_loop.h"

/*
 * A VM's lifecycle: configured -> running <-> paused -> stopped.  Only the
 * main thread changes the state, one command at a time; other threads
 * (signals, the guest's power events, later the API) send it commands
 * through a struct vm_cmd_queue.
 */
enum vm_state {
	VM_STATE_CONFIGURED,   /* set up, no vCPU has run */
	VM_STATE_RUNNING,
	VM_STATE_PAUSED,       /* no vCPU runs, no device touches guest RAM */
	VM_STATE_STOPPED,      /* for good: only teardown is left */
};

enum vm_cmd_kind {
	VM_CMD_START,
	VM_CMD_PAUSE,
	VM_CMD_RESUME,
	VM_CMD_STOP,
	VM_CMD_UPDATE,   /* a device's config changes (data: struct vm_update) */
	VM_CMD_SNAPSHOT, /* a paused VM's state to files (data: struct snapshot_request) */
};

const char *vm_state_name(enum vm_state state);
const char *vm_cmd_name(enum vm_cmd_kind kind);

/*
 * Where @cmd takes a VM in @from: 0 with *@to set (to @from itself for a
 * command that asks for the state the VM is already in), or -EINVAL when
 * the command makes no sense there (resuming a VM that never started).
 */
int vm_state_next(enum vm_state from, enum vm_cmd_kind cmd, enum vm_state *to);

/*
 * A running VM's device takes a new config (struct disk_config or
 * net_config, by class name and id): VM_CMD_UPDATE's data.
 */
struct vm_update {
	const char *class_name;
	const char *id;
	const void *cfg;
};

/* A caller waiting for its command's result (vm_cmd_queue_call()). */
struct vm_cmd_reply;

struct vm_cmd {
	enum vm_cmd_kind kind;
	int arg;                     /* STOP: enum vm_stop_reason */
	const void *data;            /* UPDATE: what changes; the caller waits */
	struct vm_cmd_reply *reply;  /* NULL: nobody waits */
};

#define VM_CMD_QUEUE_LEN 32

/*
 * Commands from any thread to the one that owns the state, woken by an
 * eventfd on its event loop.  A bounded ring: a flood of commands is
 * refused (-EAGAIN) rather than grown without limit.
 */
struct vm_cmd_queue {
	pthread_mutex_t lock;
	struct vm_cmd ring[VM_CMD_QUEUE_LEN];
	unsigned int head, count;
	bool closed;                 /* the owner is gone: refuse, answer -ESHUTDOWN */
	struct event_source src;     /* eventfd: something was posted */
	/* The owner's handler, on its thread; returns the command's result. */
	int (*handle)(struct vm_cmd_queue *q, const struct vm_cmd *cmd);
};

/* Watches the queue on @loop: @handle runs there for each command. */
int vm_cmd_queue_init(struct vm_cmd_queue *q, struct event_loop *loop,
		      int (*handle)(struct vm_cmd_queue *q, const struct vm_cmd *cmd));
/* Answers every command still queued with -ESHUTDOWN, and refuses new ones. */
void vm_cmd_queue_destroy(struct vm_cmd_queue *q);

/*
 * From any thread, without waiting: 0, -EAGAIN when the queue is full, or
 * -ESHUTDOWN once it is destroyed.
 */
int vm_cmd_queue_post(struct vm_cmd_queue *q, enum vm_cmd_kind kind, int arg);
/*
 * From any thread but the owner's: posts and waits for the handler's
 * result (-EINVAL for a command the state refuses).
 */
int vm_cmd_queue_call(struct vm_cmd_queue *q, enum vm_cmd_kind kind, int arg);
/* The same with @data, which must live until the call returns. */
int vm_cmd_queue_call_data(struct vm_cmd_queue *q, enum vm_cmd_kind kind, int arg,
			   const void *data);

#endif
