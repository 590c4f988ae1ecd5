/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The guest agent (agent/, built as a static arm64 binary), linked into
 * arkvm as bytes: arkvm exec writes it as /init of the initramfs it makes.
 * ARKVM_AGENT is its path, given by the Makefile.
 */
	.section .rodata
	.balign 16
	.globl exec_agent_image
exec_agent_image:
	.incbin ARKVM_AGENT
1:
	.balign 8
	.globl exec_agent_size
exec_agent_size:
	.quad 1b - exec_agent_image

	.section .note.GNU-stack, "", %progbits
