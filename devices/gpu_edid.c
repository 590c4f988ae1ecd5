// SPDX-License-Identifier: Apache-2.0
/* The EDID virtio-gpu reports for its display (GET_EDID): apart, as it knows nothing of the device. */
#include <string.h>

#include "virtio_gpu.h"

/*
 * An EDID 1.4 base block for one digital display whose preferred (and only
 * detailed) mode is @width x @height at 60 Hz, with reduced blanking.
 */
void gpu_make_edid(u8 e[GPU_EDID_SIZE], u32 width, u32 height)
{
	static const u8 header[8] = { 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00 };
	/* sRGB primaries and white point, 10 bits each: rx ry gx gy bx by wx wy. */
	static const u16 chroma[8] = { 655, 338, 307, 614, 154, 61, 320, 337 };
	const u32 hblank = 160, hfront = 48, hsync = 32, vblank = 23, vfront = 3, vsync = 6;
	u64 clock = ((u64)(width + hblank) * (height + vblank) * 60 + 9999) / 10000;
	u32 wmm = width * 254 / 960, hmm = height * 254 / 960;  /* at 96 dpi */
	u8 *d = &e[54];
	u8 sum = 0;

	memset(e, 0, GPU_EDID_SIZE);
	memcpy(e, header, sizeof(header));
	e[8] = 0x06, e[9] = 0x4b;           /* "ARK", 5 bits a letter */
	e[10] = 0x01;                       /* product 1 */
	e[17] = 2026 - 1990;
	e[18] = 1, e[19] = 4;
	e[20] = 0x80;                       /* digital input */
	e[21] = (u8)MIN(wmm / 10, 255u), e[22] = (u8)MIN(hmm / 10, 255u);
	e[23] = 120;                        /* gamma 2.2 */
	e[24] = 0x06;                       /* sRGB; the first timing is preferred */
	e[25] = (u8)((chroma[0] & 3) << 6 | (chroma[1] & 3) << 4 | (chroma[2] & 3) << 2 |
		     (chroma[3] & 3));
	e[26] = (u8)((chroma[4] & 3) << 6 | (chroma[5] & 3) << 4 | (chroma[6] & 3) << 2 |
		     (chroma[7] & 3));
	for (int i = 0; i < 8; i++)
		e[27 + i] = (u8)(chroma[i] >> 2);
	memset(&e[38], 0x01, 16);           /* no standard timings */

	clock = MIN(clock, 0xffffull);      /* a lower refresh for the largest modes */
	d[0] = (u8)clock, d[1] = (u8)(clock >> 8);
	d[2] = (u8)width, d[3] = (u8)hblank;
	d[4] = (u8)((width >> 8) << 4 | hblank >> 8);
	d[5] = (u8)height, d[6] = (u8)vblank;
	d[7] = (u8)((height >> 8) << 4 | vblank >> 8);
	d[8] = (u8)hfront, d[9] = (u8)hsync;
	d[10] = (u8)((vfront & 0xf) << 4 | (vsync & 0xf));
	d[11] = (u8)((hfront >> 8) << 6 | (hsync >> 8) << 4 | (vfront >> 4) << 2 | vsync >> 4);
	d[12] = (u8)wmm, d[13] = (u8)hmm;
	d[14] = (u8)((wmm >> 8) << 4 | (hmm >> 8 & 0xf));
	d[17] = 0x1e;                       /* digital separate sync, both positive */

	/* A display name, then two unused descriptors. */
	memcpy(&e[72], "\0\0\0\xfc\0arkvm\n       ", 18);
	e[93] = 0x10;
	e[111] = 0x10;
	for (int i = 0; i < GPU_EDID_SIZE - 1; i++)
		sum += e[i];
	e[127] = (u8)-sum;
}
