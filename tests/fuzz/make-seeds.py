#!/usr/bin/env python3
"""Writes the fuzz targets' seed corpora (tests/fuzz/corpus/TARGET/) from
scratch: small, valid inputs that reach deep into each target, for libFuzzer
to mutate.  Run it after changing a target's input format; a crash found by
fuzzing is added next to these as its own file, with the fix."""
import gzip
import json
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
RAM_BASE = 0x80000000
F_NEXT, F_WRITE, F_INDIRECT = 1, 2, 4


def put(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


class Ram:
    def __init__(self, size):
        self.b = bytearray(size)

    def w(self, off, data):
        self.b[off:off + len(data)] = data

    def desc(self, ring, i, addr, length, flags, nxt):
        self.w(ring + 16 * i, struct.pack("<QIHH", RAM_BASE + addr, length, flags, nxt))

    def avail(self, ring, heads):
        avail = ring + 0x1000
        self.w(avail, struct.pack("<HH", 0, len(heads)))
        for i, h in enumerate(heads):
            self.w(avail + 4 + 2 * i, struct.pack("<H", h))


def image(size=0x10000, pe=False):
    hdr = bytearray(64)
    struct.pack_into("<QQQ", hdr, 8, 0, size, 0xa)
    struct.pack_into("<I", hdr, 56, 0x644d5241)
    body = bytearray(4096)
    if pe:
        hdr[0:2] = b"MZ"
        struct.pack_into("<I", hdr, 60, 64)
        peh = bytearray(24 + 40)
        peh[0:4] = b"PE\0\0"
        struct.pack_into("<HH", peh, 4, 0xaa64, 1)
        struct.pack_into("<H", peh, 20, 0)
        struct.pack_into("<II", peh, 24 + 16, 4096, 64)  # raw size, raw offset
        body[0:len(peh)] = peh
    return bytes(hdr + body)


def loader():
    put("loader", "plain", image())
    put("loader", "pe", image(pe=True))
    put("loader", "gzip", gzip.compress(image(pe=True)))
    put("loader", "old-no-size", image(size=0))


def virtqueue():
    ram = Ram(0x4000)
    ram.desc(0, 0, 0x3000, 16, F_NEXT, 1)
    ram.desc(0, 1, 0x3100, 64, F_WRITE, 0)
    ram.desc(0, 2, 0x3200, 32, F_INDIRECT, 0)
    ram.w(0x3200, struct.pack("<QIHH", RAM_BASE + 0x3300, 8, F_NEXT, 1))
    ram.w(0x3210, struct.pack("<QIHH", RAM_BASE + 0x3400, 8, F_WRITE, 0))
    ram.avail(0, [0, 2])
    head = struct.pack("<HBHHH", 8, 1, 0x100, 0x1100, 0x2100)
    put("virtqueue", "two-chains", head + bytes(ram.b))


def blk_request(ram, base, typ, sector, data_len, to_guest):
    """A three-part request at descriptors base..base+2, buffers at 0x3000 on."""
    hdr, data, status = 0x3000 + base * 0x40, 0x4000 + base * 0x200, 0x6000 + base
    ram.w(hdr, struct.pack("<IIQ", typ, 0, sector))
    ram.desc(0, base, hdr, 16, F_NEXT, base + 1)
    ram.desc(0, base + 1, data, data_len, F_NEXT | (F_WRITE if to_guest else 0), base + 2)
    ram.desc(0, base + 2, status, 1, F_WRITE, 0)
    return base


def virtio_blk():
    for name, reqs in {
        "read-write": [(0, 2, 512, True), (1, 3, 512, False)],
        "flush-getid": [(4, 0, 1, False), (8, 0, 20, True)],
        "discard": [(11, 0, 16, False), (13, 0, 16, False)],
    }.items():
        ram = Ram(0x8000)
        heads = [blk_request(ram, 3 * i, *r) for i, r in enumerate(reqs)]
        if name == "discard":
            ram.w(0x4000, struct.pack("<QII", 8, 8, 0))
            ram.w(0x4200, struct.pack("<QII", 16, 8, 1))
        ram.avail(0, heads)
        for uring in (0, 1):
            put("virtio_blk", f"{name}-{'uring' if uring else 'plain'}",
                struct.pack("<QB", 0, uring) + bytes(ram.b))


def virtio_gpu():
    """Create, attach, transfer, show and flush a 16x8 resource; move a cursor."""
    ram = Ram(0x10000)  # the cursor queue's rings take 0x4000-0x6fff
    hdr = lambda typ: struct.pack("<IIQIB3x", typ, 0, 0, 0, 0)
    cmds = [
        hdr(0x0101) + struct.pack("<IIII", 1, 2, 16, 8),              # CREATE_2D
        hdr(0x0106) + struct.pack("<II", 1, 1)                         # ATTACH_BACKING
        + struct.pack("<QII", RAM_BASE + 0xa000, 16 * 8 * 4, 0),
        hdr(0x0105) + struct.pack("<IIIIQII", 0, 0, 16, 8, 0, 1, 0),  # TRANSFER_TO_HOST_2D
        hdr(0x0103) + struct.pack("<IIIIII", 0, 0, 16, 8, 0, 1),      # SET_SCANOUT
        hdr(0x0104) + struct.pack("<IIIIII", 0, 0, 16, 8, 1, 0),      # RESOURCE_FLUSH
        hdr(0x010a) + struct.pack("<II", 0, 0),                        # GET_EDID
        hdr(0x0100),                                                   # GET_DISPLAY_INFO
    ]
    heads = []
    for i, cmd in enumerate(cmds):
        req, resp = 0x8000 + 0x80 * i, 0xc000 + 0x400 * i
        ram.w(req, cmd)
        ram.desc(0, 2 * i, req, len(cmd), F_NEXT, 2 * i + 1)
        ram.desc(0, 2 * i + 1, resp, 0x100 if i < 6 else 0x400, F_WRITE, 0)
        heads.append(2 * i)
    ram.avail(0, heads)
    for i in range(16 * 8):
        ram.w(0xa000 + 4 * i, bytes([i, 2 * i & 0xff, 0x80, 0xff]))
    # The cursor queue: MOVE_CURSOR to (10, 20).
    cur = hdr(0x0301) + struct.pack("<IIII", 0, 10, 20, 0) + struct.pack("<IIII", 0, 0, 0, 0)
    ram.w(0x7800, cur)
    ram.desc(0x4000, 0, 0x7800, len(cur), 0, 0)
    ram.avail(0x4000, [0])
    put("virtio_gpu", "2d-screen", struct.pack("<Q", 1 << 1) + bytes(ram.b))


def virtio_net():
    mrg_csum = (1 << 15) | (1 << 0) | (1 << 1)
    ram = Ram(0x8000)
    for i in range(4):
        ram.desc(0, i, 0x6000 + i * 0x400, 0x400, F_WRITE, 0)
    ram.avail(0, [0, 1, 2, 3])
    ram.desc(0x4000, 0, 0x7000, 12, F_NEXT, 1)
    ram.desc(0x4000, 1, 0x7100, 60, 0, 0)
    ram.avail(0x4000, [0])
    pkt = bytes(12) + bytes(range(60))
    put("virtio_net", "mrg-one-each-way",
        struct.pack("<Q", mrg_csum) + bytes(ram.b) + struct.pack("<H", len(pkt)) + pkt)
    put("virtio_net", "plain", struct.pack("<Q", 0) + bytes(ram.b) + struct.pack("<H", 1500) +
        bytes(1500))


def vsock_hdr(op, src_port, dst_port, length=0, flags=0, buf_alloc=4096, fwd_cnt=0):
    return struct.pack("<QQIIIHHIII", 3, 2, src_port, dst_port, length, 1, op, flags,
                       buf_alloc, fwd_cnt)


def virtio_vsock():
    """Guest packets in RAM (REQUEST, RW, SHUTDOWN to host port 1), then host steps."""
    ram = Ram(0x10000)
    for i in range(4):
        ram.desc(0, i, 0xc000 + i * 0x400, 0x400, F_WRITE, 0)
    ram.avail(0, [0, 1, 2, 3])
    pkts = [vsock_hdr(1, 1000, 1), vsock_hdr(5, 1000, 1, 5) + b"hello",
            vsock_hdr(4, 1000, 1, 0, 3)]
    for i, p in enumerate(pkts):
        ram.w(0xd000 + i * 0x100, p)
        ram.desc(0x4000, i, 0xd000 + i * 0x100, len(p), 0, 0)
    ram.avail(0x4000, [0, 1, 2])
    ram.desc(0x8000, 0, 0xf000, 8, F_WRITE, 0)
    ram.avail(0x8000, [0])
    line = b"CONNECT 52\n"
    steps = (bytes([0, 0, 6, 0, 3, 0]) + struct.pack("<H", 3) + b"abc" +
             bytes([2, 0, len(line)]) + line + bytes([1, 0, 7, 0, 4, 1, 5, 0]))
    put("virtio_vsock", "guest-and-host", struct.pack("<Q", 0) + bytes(ram.b) + steps)


def virtio_balloon():
    """Statistics and reporting accepted: an inflate list, a deflate list, a
    statistics buffer and a free page report, each at its ring's spare page,
    then kicks of all four queues, a tick, a new target and a pause."""
    ram = Ram(0x10000)
    pfns = [(RAM_BASE + 0x80000 >> 12) + i for i in range(4)]
    ram.w(0x3000, struct.pack("<4I", *pfns))
    ram.desc(0, 0, 0x3000, 16, 0, 0)
    ram.avail(0, [0])
    ram.w(0x7000, struct.pack("<2I", *pfns[:2]))
    ram.desc(0x4000, 0, 0x7000, 8, 0, 0)
    ram.avail(0x4000, [0])
    stats = struct.pack("<HQ", 4, 1 << 20) + struct.pack("<HQ", 5, 1 << 28)
    ram.w(0xb000, stats)
    ram.desc(0x8000, 0, 0xb000, len(stats), 0, 0)
    ram.avail(0x8000, [0])
    ram.desc(0xc000, 0, 0x90000, 0x8000, F_WRITE, 0)
    ram.avail(0xc000, [0])
    features = (1 << 32) | (1 << 1) | (1 << 5)
    steps = bytes([0, 1, 2, 4, 3, 5, 1, 7, 2])
    put("virtio_balloon", "all-queues", struct.pack("<Q", features) + bytes(ram.b) + steps)


def mmio_program(ops):
    out = b""
    for kind, off, width, val in ops:
        op = kind | ({1: 0, 2: 1, 4: 2, 8: 3}[width] << 2)
        out += struct.pack("<BHI", op, off, val)
    return out


def virtio_mmio():
    ops = [(1, 0x70, 4, 1), (1, 0x70, 4, 3), (1, 0x24, 4, 1), (1, 0x20, 4, 1),
           (1, 0x70, 4, 0xb), (1, 0x30, 4, 0), (1, 0x38, 4, 8),
           (1, 0x80, 4, RAM_BASE), (1, 0x90, 4, RAM_BASE + 0x1000),
           (1, 0xa0, 4, RAM_BASE + 0x2000), (1, 0x44, 4, 1), (1, 0x70, 4, 0xf),
           (3, 0, 4, RAM_BASE + 0x3000), (3, 2, 4, 64 | (F_WRITE << 16)),
           (3, 0x400, 4, 1 << 16), (2, 0, 4, 0), (0, 0x60, 4, 0), (1, 0x64, 4, 1),
           (0, 0x100, 1, 0), (0, 0xfc, 4, 0)]
    put("virtio_mmio", "rng-bring-up", mmio_program(ops))


def virtio_state():
    # A running virtio-rng: one queue of 8 at the fake driver's rings, with
    # three buffers already used; then a buffer waiting in the avail ring.
    body = struct.pack("<IIIIQIIIII", 1, 4, 1, 0xf, 1 << 32, 0, 0, 0, 0, 0)
    body += struct.pack("<HBQQQHHHB", 8, 1, RAM_BASE, RAM_BASE + 0x1000,
                        RAM_BASE + 0x2000, 3, 3, 3, 1)
    put("virtio_state", "rng-running", struct.pack("<4sI", b"VIRT", len(body)) + body)


def uart():
    ops = [(1, 3, 1, 0x80), (1, 0, 1, 1), (1, 3, 1, 3), (1, 1, 1, 0xf), (1, 2, 1, 7),
           (1, 0, 1, ord("a")), (2, 0, 4, 0x616263), (0, 5, 1, 0), (0, 0, 1, 0), (0, 2, 1, 0)]
    put("uart", "init-and-io", b"".join(struct.pack("<BBI", k | 0x10 | (
        {1: 0, 2: 1, 4: 2, 8: 3}[w] << 2), o, v) for k, o, w, v in ops))


def cli():
    put("cli", "everything", b"\0".join([
        b"run", b"--kernel", b"Image", b"--initrd=initrd", b"--cmdline", b"quiet",
        b"--cpus", b"2", b"--memory", b"1G", b"--disk", b"a.img,readonly,serial=x",
        b"--disk", b"b.img", b"--net", b"tap=tap0,mac=02:00:00:00:00:01",
        b"--console", b"virtio", b"--dump-dtb", b"x.dtb"]))
    put("cli", "help", b"--help")


# tests/fuzz/fuzz_api.c: its header (flags, read sizes), then what a client sends.
API_DIR = "/tmp/arkvm-fuzz-api"
API_START_OK, API_UPDATE_BAD = 1, 2


def http(method, path, body=None, close=False):
    head = f"{method} {path} HTTP/1.1\r\nHost: localhost\r\nAccept: application/json\r\n"
    if close:
        head += "Connection: close\r\n"
    if body is None:
        return (head + "\r\n").encode()
    data = json.dumps(body).encode()
    head += f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n"
    return head.encode() + data


def api_seed(name, flags, reads, requests):
    put("api", name, bytes([flags]) + bytes(reads) + b"".join(requests))


def api():
    bucket = {"size": 1048576, "one_time_burst": 0, "refill_time": 1000}
    # Firecracker's getting-started guide, then what a running VM takes.
    started = [
        http("PUT", "/logger", {"log_path": API_DIR + "/out/fc.log", "level": "Debug",
                                "show_level": True, "show_log_origin": True}),
        http("PUT", "/metrics", {"metrics_path": API_DIR + "/out/metrics.json"}),
        http("PUT", "/boot-source", {"kernel_image_path": API_DIR + "/vmlinux.bin",
                                     "boot_args": "console=ttyS0 reboot=k panic=1"}),
        http("PUT", "/drives/rootfs", {"drive_id": "rootfs",
                                       "path_on_host": API_DIR + "/rootfs.ext4",
                                       "is_root_device": True, "is_read_only": False}),
        http("PUT", "/network-interfaces/net1", {"iface_id": "net1",
                                                 "guest_mac": "06:00:AC:10:00:02",
                                                 "host_dev_name": "lo"}),
        http("PUT", "/machine-config", {"vcpu_count": 2, "mem_size_mib": 256}),
        http("PUT", "/entropy", {"rate_limiter": {"bandwidth": bucket}}),
        http("PUT", "/actions", {"action_type": "InstanceStart"}),
        http("GET", "/"),
        http("PATCH", "/vm", {"state": "Paused"}),
        http("PATCH", "/vm", {"state": "Resumed"}),
        http("PATCH", "/drives/rootfs", {"drive_id": "rootfs",
                                         "path_on_host": API_DIR + "/rootfs.ext4",
                                         "rate_limiter": {"ops": bucket}}),
        http("PATCH", "/network-interfaces/net1", {"iface_id": "net1",
                                                   "rx_rate_limiter": {"bandwidth": bucket}}),
        http("PUT", "/actions", {"action_type": "FlushMetrics"}),
        http("GET", "/vm/config"),
        http("GET", "/machine-config", close=True),
    ]
    api_seed("getting-started", API_START_OK, [0] * 8, started)
    # The same, read in small pieces that split lines, headers and bodies.
    api_seed("split-reads", API_START_OK, [1, 7, 13, 2, 31, 5, 64, 3], started)
    api_seed("start-fails", API_UPDATE_BAD, [0] * 8, started[2:8] + [http("GET", "/")])
    api_seed("refused", API_START_OK, [0] * 8, [
        http("GET", "/version"),
        http("PUT", "/machine-config", {"vcpu_count": 2}),
        http("PUT", "/drives/x/y", {}),
        http("PATCH", "/machine-config", {"smt": True}),
        b"PUT /machine-config HTTP/1.1\r\nContent-Length: 999999\r\n\r\n{",
    ])
    api_seed("long-path", 0, [0] * 8, [http("GET", "/" + "a" * 300)])
    api_seed("not-http", 0, [0] * 8, [b"\x01\x02 hello\r\n\r\n"])


def fc_config():
    for name in ("vm-disk-net.json", "vm-minimal.json"):
        with open(os.path.join(HERE, "..", "..", "configs", name), "rb") as f:
            put("fc_config", name, f.read())


def fuse_req(opcode, nodeid, args=b"", room=4096, split=0x80):
    """One request of fuzz_fuse's input: length, reply room, split, bytes."""
    body = struct.pack("<IIQQIIIHH", 40 + len(args), opcode, 1, nodeid, 1000, 1000, 1, 0, 0) + args
    return struct.pack("<HHB", len(body), room, split) + body


def fuse():
    (LOOKUP, FORGET, GETATTR, SETATTR, READLINK, SYMLINK, MKNOD, MKDIR, UNLINK, RMDIR, RENAME,
     LINK, OPEN, READ, WRITE, STATFS, RELEASE, FSYNC, SETXATTR, GETXATTR, LISTXATTR, FLUSH,
     INIT, OPENDIR, READDIR, RELEASEDIR, CREATE, READDIRPLUS, RENAME2, FALLOCATE, LSEEK) = (
        1, 2, 3, 4, 5, 6, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 20, 21, 22, 23, 25, 26, 27,
        28, 29, 35, 44, 45, 43, 46)
    # Nodeids and handles 2..15 stand for those the server returned (the harness maps them).
    files = [
        fuse_req(LOOKUP, 1, b"file\0"),
        fuse_req(GETATTR, 2, bytes(16)),
        fuse_req(OPEN, 2, struct.pack("<II", 2, 0)),
        fuse_req(READ, 2, struct.pack("<QQIIQII", 2, 0, 64, 0, 0, 0, 0)),
        fuse_req(WRITE, 2, struct.pack("<QQIIQII", 2, 5, 4, 0, 0, 0, 0) + b"abcd"),
        fuse_req(FSYNC, 2, struct.pack("<QII", 2, 0, 0)),
        fuse_req(FLUSH, 2, struct.pack("<QIIQ", 2, 0, 0, 0)),
        fuse_req(SETATTR, 2, struct.pack("<IIQQQQQQIIIIIIII", 1 | 8, 0, 0, 3, 0, 0, 0, 0,
                                         0, 0, 0, 0o4755, 0, 0, 0, 0)),
        fuse_req(RELEASE, 2, struct.pack("<QIIQ", 2, 0, 0, 0)),
        fuse_req(FORGET, 2, struct.pack("<Q", 1)),
        fuse_req(STATFS, 1),
    ]
    put("fuse", "file-io", b"\x00" + b"".join(files))
    names = [
        fuse_req(MKDIR, 1, struct.pack("<II", 0o755, 0) + b"d\0"),
        fuse_req(CREATE, 2, struct.pack("<IIII", 0o102, 0o100644, 0, 0) + b"f\0"),
        fuse_req(SYMLINK, 2, b"l\0../../outside\0"),
        fuse_req(READLINK, 4),
        fuse_req(LINK, 1, struct.pack("<Q", 3) + b"f2\0"),
        fuse_req(MKNOD, 2, struct.pack("<IIII", 0o10644, 0, 0, 0) + b"p\0"),
        fuse_req(MKNOD, 2, struct.pack("<IIII", 0o20644, 0x103, 0, 0) + b"c\0"),
        fuse_req(RENAME, 2, struct.pack("<Q", 1) + b"f\0g\0"),
        fuse_req(RENAME2, 1, struct.pack("<QII", 2, 2, 0) + b"g\0f2\0"),
        fuse_req(SETXATTR, 3, struct.pack("<II", 3, 0) + b"user.a\0xyz"),
        fuse_req(GETXATTR, 3, struct.pack("<II", 64, 0) + b"user.a\0"),
        fuse_req(LISTXATTR, 3, struct.pack("<II", 64, 0)),
        fuse_req(UNLINK, 1, b"f2\0"),
        fuse_req(RMDIR, 1, b"d\0"),
    ]
    put("fuse", "names", b"\x00" + b"".join(names))
    dirs = [
        fuse_req(LOOKUP, 1, b"dir\0"),
        fuse_req(OPENDIR, 2, struct.pack("<II", 0, 0)),
        fuse_req(READDIR, 2, struct.pack("<QQIIQII", 2, 0, 4096, 0, 0, 0, 0), room=4200),
        fuse_req(READDIRPLUS, 2, struct.pack("<QQIIQII", 2, 0, 4096, 0, 0, 0, 0), room=4200),
        fuse_req(RELEASEDIR, 2, struct.pack("<QIIQ", 2, 0, 0, 0)),
    ]
    put("fuse", "dirs", b"\x06" + b"".join(dirs))
    hostile = [
        fuse_req(LOOKUP, 1, b"..\0"),
        fuse_req(LOOKUP, 1, b"out\0"),
        fuse_req(LOOKUP, 2, b"canary\0"),
        fuse_req(LOOKUP, 1, b"etc\0"),
        fuse_req(OPEN, 3, struct.pack("<II", 0, 0)),
        fuse_req(LOOKUP, 1, b"fifo\0"),
        fuse_req(OPEN, 4, struct.pack("<II", 0, 0)),
        fuse_req(UNLINK, 1, b"out/canary\0"),
        fuse_req(RENAME, 1, struct.pack("<Q", 0xdeadbeef) + b"file\0x\0"),
        fuse_req(READ, 2, struct.pack("<QQIIQII", 2, 0, 60000, 0, 0, 0, 0), room=100),
        fuse_req(LOOKUP, 1, b"noterm"),
        fuse_req(INIT, 0, struct.pack("<IIII", 7, 38, 0, 0)),
    ]
    put("fuse", "hostile", b"\x08" + b"".join(hostile))
    put("fuse", "before-init", b"\x10" + fuse_req(LOOKUP, 1, b"file\0") +
        fuse_req(INIT, 0, struct.pack("<IIII", 7, 38, 0, 0xffffffff)) + fuse_req(LOOKUP, 1, b"file\0"))


def net_passt():
    """Steps: 0 + u16 length + bytes of passt's stream, or 1 + u16 a read's buffer size."""
    def frame(b):
        return struct.pack(">I", len(b)) + b

    def piece(b):
        return b"\x00" + struct.pack("<H", len(b)) + b

    def read(room):
        return b"\x01" + struct.pack("<H", room)

    eth = bytes(range(60))
    w = frame(eth)
    put("net_passt", "two-frames", piece(w + frame(eth[:20])) + read(1500) + read(1500))
    put("net_passt", "split", piece(w[:2]) + read(1500) + piece(w[2:30]) + read(1500) +
        piece(w[30:]) + read(1500))
    put("net_passt", "oversize", piece(frame(bytes(3000)) + w) + read(1500))
    put("net_passt", "huge-length", piece(struct.pack(">I", 65537) + eth) + read(1500))


# Every target's seeds, or those named: ./make-seeds.py api fc_config
TARGETS = {f.__name__: f for f in (loader, virtqueue, virtio_blk, virtio_net, virtio_mmio,
                                   uart, cli, virtio_gpu, virtio_state, api, fc_config,
                                   virtio_vsock, virtio_balloon, fuse, net_passt)}
for name in sys.argv[1:] or TARGETS:
    TARGETS[name]()
