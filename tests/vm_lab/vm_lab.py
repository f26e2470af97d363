#!/usr/bin/python3
"""The VM layout lab: Debian's real qemu-system-x86_64 against vm-check's predicted layout.

Usage: vm_lab.py IOVAMAP_BINARY [QEMU_BINARY]

For each configuration of a small matrix (machine types, memory sizes, CPUs and phys-bits,
maxmem and DIMMs, the AMD 1 TiB relocation), it starts QEMU paused (-S, TCG, no firmware run,
no guest), reads `info mtree -f` through the HMP monitor, and compares where QEMU put RAM
(ram-below-4g's end, ram-above-4g, every DIMM) with what `iovamap vm-check --format json`
predicts for the same command line (with a vfio-pci device added for iovamap only, on a
what-if host whose IOMMU covers everything). Configurations QEMU refuses are compared by its
message ("phys-bits too low") against the prediction's. Prints one line per configuration;
exit 0 when all agree, 1 on a disagreement, 77 when QEMU is missing (skipped).

No guest memory is touched: QEMU reserves RAM and never writes it while paused, so a 1 TiB
hotplug region costs nothing.

Then the BARs: for a second matrix (SeaBIOS, the default, and OVMF from Debian's `ovmf`
package, q35 and i440fx, RAM sizes, phys-bits, X-PciMmio64Mb, one or two ivshmem-plain
devices whose BAR 2 is a file-backed memory backend of 256 MiB to 64 GiB: a sparse file,
never written), it lets the firmware run (TCG, no disk), polls QMP `query-pci` until each
ivshmem's BAR 2 holds the same assigned address twice in a row, and compares them with the
RAM-backed BAR mappings vm-check predicts. These run two at a time, each with a time limit; without OVMF the OVMF
rows are skipped (said so, not failed).
"""

import concurrent.futures
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time

SKIP = 77

TOPOLOGY = """kernel = "6.12"
[[iommu]]
name = "any"
driver = "generic"
address-bits = 64
[[group]]
id = 1
iommu = "any"
[[group.device]]
bdf = "0000:01:00.0"
driver = "vfio-pci"
"""

# (name, QEMU arguments, host phys-bits, host vendor)
G = 1 << 30
MATRIX = [
    ("q35 1G", ["-M", "pc-q35-7.2", "-m", "1G"]),
    ("q35 2816M (0xb0000000)", ["-M", "pc-q35-7.2", "-m", "2816M"]),
    ("q35 2815M", ["-M", "pc-q35-7.2", "-m", "2815M"]),
    ("q35 16G", ["-M", "pc-q35-7.2", "-m", "16G"]),
    ("q35 4G max-ram-below-4g=1G", ["-M", "pc-q35-7.2,max-ram-below-4g=1G", "-m", "4G"]),
    ("i440fx 3G", ["-M", "pc-i440fx-7.2", "-m", "3G"]),
    ("i440fx 3584M", ["-M", "pc-i440fx-7.2", "-m", "3584M"]),
    ("i440fx 8G", ["-M", "pc-i440fx-7.2", "-m", "8G"]),
    ("i440fx 1.6 4G", ["-M", "pc-i440fx-1.6", "-m", "4G"]),
    ("q35 dimms", ["-M", "pc-q35-7.2", "-m", "6G,slots=4,maxmem=70G",
                   "-object", "memory-backend-ram,id=d0,size=4G",
                   "-device", "pc-dimm,memdev=d0,id=dimm0",
                   "-object", "memory-backend-ram,id=d1,size=2G",
                   "-device", "pc-dimm,memdev=d1,id=dimm1"]),
    ("q35 dimm at addr=, another in the gap below it, a third after it",
     ["-M", "pc-q35-7.2", "-m", "6G,slots=4,maxmem=70G",
      "-object", "memory-backend-ram,id=d1,size=1G",
      "-device", "pc-dimm,memdev=d1,id=dimm1,addr=0x300000000",
      "-object", "memory-backend-ram,id=d0,size=1G",
      "-device", "pc-dimm,memdev=d0,id=dimm0",
      "-object", "memory-backend-ram,id=d2,size=4G",
      "-device", "pc-dimm,memdev=d2,id=dimm2"]),
    ("q35 dimm at addr= outside the hotplug region: refused",
     ["-M", "pc-q35-7.2", "-m", "6G,slots=4,maxmem=70G",
      "-object", "memory-backend-ram,id=d1,size=1G",
      "-device", "pc-dimm,memdev=d1,id=dimm1,addr=0x8000000000"]),
    ("i440fx dimm", ["-M", "pc-i440fx-7.2", "-m", "2G,slots=2,maxmem=10G",
                     "-object", "memory-backend-ram,id=d0,size=1G",
                     "-device", "pc-dimm,memdev=d0"]),
    ("EPYC 1100G maxmem, phys-bits 39: refused",
     ["-M", "pc-q35-7.2", "-cpu", "EPYC,phys-bits=39", "-m", "2G,slots=2,maxmem=1100G"]),
    ("EPYC 1100G maxmem, phys-bits 42: moved to 1 TiB",
     ["-M", "pc-q35-7.2", "-cpu", "EPYC,phys-bits=42", "-m", "6G,slots=2,maxmem=1100G",
      "-object", "memory-backend-ram,id=d0,size=1G", "-device", "pc-dimm,memdev=d0"]),
    ("EPYC 1100G maxmem on a 7.0 machine: not moved",
     ["-M", "pc-q35-7.0", "-cpu", "EPYC,phys-bits=42", "-m", "6G,slots=2,maxmem=1100G",
      "-object", "memory-backend-ram,id=d0,size=1G", "-device", "pc-dimm,memdev=d0"]),
    ("Skylake 1100G maxmem: not moved (Intel vCPU)",
     ["-M", "pc-q35-7.2", "-cpu", "Skylake-Client,phys-bits=42", "-m", "6G,slots=2,maxmem=1100G"]),
    ("qemu64 (AMD vendor) 1100G maxmem: moved",
     ["-M", "pc-q35-7.2", "-cpu", "qemu64,phys-bits=42", "-m", "6G,slots=2,maxmem=1100G",
      "-object", "memory-backend-ram,id=d0,size=1G", "-device", "pc-dimm,memdev=d0"]),
    ("qemu64 default 40 bits, 1100G maxmem: refused",
     ["-M", "pc-q35-7.2", "-m", "6G,slots=2,maxmem=1100G"]),
]

# Where the firmware puts ivshmem's BAR 2: (name, firmware, sizes, QEMU arguments). For each
# size ("256M+4G": two devices) bar_args adds "-object memory-backend-file,id=ivsmemN,
# size=SIZE,share=on,mem-path=TMP" and "-device ivshmem-plain,memdev=ivsmemN,id=ivsN".
OVMF_CODE = "/usr/share/OVMF/OVMF_CODE.fd"
OVMF_VARS = "/usr/share/OVMF/OVMF_VARS.fd"
BAR_MATRIX = [
    ("SeaBIOS q35 1G, 256M BAR: the 32-bit window, from its top", "seabios", "256M",
     ["-M", "pc-q35-7.2", "-m", "1G"]),
    ("SeaBIOS i440fx 2G, 1G BAR: just fits the 32-bit window [2G, 0xfec00000)", "seabios",
     "1G", ["-M", "pc-i440fx-7.2", "-m", "2G"]),
    ("SeaBIOS i440fx 3G, 512M BAR: the 32-bit window [3G, 0xfec00000), aligned down to 3G",
     "seabios", "512M", ["-M", "pc-i440fx-7.2", "-m", "3G"]),
    ("SeaBIOS q35 8G, 4G BAR: after RAM", "seabios", "4G", ["-M", "pc-q35-7.2", "-m", "8G"]),
    ("SeaBIOS q35 hotplug to 10G, 64G BAR: after the hotplug region", "seabios", "64G",
     ["-M", "pc-q35-7.2", "-m", "2G,slots=2,maxmem=10G"]),
    ("OVMF q35 1G qemu64 (AMD, 40 bits trusted), 256M BAR: dynamic window", "ovmf", "256M",
     ["-M", "pc-q35-7.2", "-m", "1G"]),
    ("OVMF q35 4G Intel phys-bits=40 (not trusted), 4G BAR: classic window", "ovmf", "4G",
     ["-M", "pc-q35-7.2", "-m", "4G", "-cpu", "Skylake-Client,phys-bits=40"]),
    ("OVMF q35 2G Intel phys-bits=39 (trusted), 4G BAR: dynamic window", "ovmf", "4G",
     ["-M", "pc-q35-7.2", "-m", "2G", "-cpu", "Skylake-Client,phys-bits=39"]),
    ("OVMF q35 1G Intel phys-bits=40, X-PciMmio64Mb=131072, 64G BAR: a 128G classic window",
     "ovmf", "64G", ["-M", "pc-q35-7.2", "-m", "1G", "-cpu", "Skylake-Client,phys-bits=40",
                     "-fw_cfg", "name=opt/ovmf/X-PciMmio64Mb,string=131072"]),
    ("SeaBIOS q35 1G, 256M and 4G BARs: both after RAM, largest first", "seabios", "256M+4G",
     ["-M", "pc-q35-7.2", "-m", "1G"]),
    ("OVMF q35 1G qemu64, 256M and 4G BARs: largest first from the window's base", "ovmf",
     "256M+4G", ["-M", "pc-q35-7.2", "-m", "1G"]),
    ("OVMF i440fx 8G EPYC phys-bits=42, 64G BAR: dynamic window", "ovmf", "64G",
     ["-M", "pc-i440fx-7.2", "-m", "8G", "-cpu", "EPYC,phys-bits=42"]),
]
BAR_TIMEOUT = 90  # seconds for one configuration (OVMF under TCG takes about 6 alone)
UNASSIGNED = (1 << 64) - 1

LINE = re.compile(r"^\s*([0-9a-f]+)-([0-9a-f]+) \(prio [-0-9]+, (ram|rom|romd)\): (\S+)")


def qemu_ram(qemu, args):
    """QEMU's flat view of guest memory: {name: [(first, last)]}, or its refusal message."""
    cmd = [qemu, "-S", "-accel", "tcg", "-display", "none", "-nodefaults", "-no-user-config",
           "-monitor", "stdio"] + args
    p = subprocess.run(cmd, input="info mtree -f\nquit\n", capture_output=True, text=True,
                       timeout=60)
    if p.returncode != 0:
        return None, p.stderr.strip().splitlines()[-1] if p.stderr.strip() else "exit %d" % p.returncode
    ram = {}
    in_memory = False
    for line in p.stdout.splitlines():
        if line.startswith("FlatView") or line.startswith("AS \"memory\""):
            pass
        if "Root memory region: system" in line:
            in_memory = True
            continue
        if line.startswith("FlatView"):
            if in_memory and ram:
                break
            in_memory = False
        if not in_memory:
            continue
        m = LINE.match(line)
        if m and m.group(3) == "ram":
            ram.setdefault(m.group(4), []).append((int(m.group(1), 16), int(m.group(2), 16)))
    return ram, None


def predict(iovamap, topology, args):
    cmd = [iovamap, "--topology", topology, "--format", "json", "vm-check", "--host-phys-bits",
           "48", "--host-cpu-vendor", "amd", "--", *args, "-device", "vfio-pci,host=01:00.0"]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    if p.returncode == 2:
        raise RuntimeError("iovamap: " + p.stderr.strip())
    return json.loads(p.stdout)


def bar_args(firmware, sizes, args, tmp, n):
    """The configuration's full QEMU arguments (the ivshmem device and, for OVMF, pflash)."""
    full = list(args)
    if firmware == "ovmf":
        varsfile = os.path.join(tmp, "vars%d.fd" % n)
        shutil.copyfile(OVMF_VARS, varsfile)
        full += ["-drive", "if=pflash,format=raw,unit=0,readonly=on,file=" + OVMF_CODE,
                 "-drive", "if=pflash,format=raw,unit=1,file=" + varsfile]
    for i, size in enumerate(sizes.split("+")):
        full += ["-object", "memory-backend-file,id=ivsmem%d,size=%s,share=on,mem-path=%s" %
                 (i, size, os.path.join(tmp, "ivshmem%d-%d" % (n, i))),
                 "-device", "ivshmem-plain,memdev=ivsmem%d,id=ivs%d" % (i, i)]
    return full


def qemu_bar(qemu, args, tmp, n, count):
    """Run the firmware and return ivs0..ivs{count-1}'s BAR 2 as ({id: (first, last)}, None),
    or (None, why)."""
    cmd = [qemu, "-accel", "tcg", "-display", "none", "-nodefaults", "-no-user-config",
           "-serial", "none", "-qmp", "stdio"] + args
    err_path = os.path.join(tmp, "stderr%d" % n)
    with open(err_path, "w+") as err:
        p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err,
                             text=True, bufsize=1)
        # The time limit holds even when QEMU stops answering: the watchdog kills it, which
        # ends every read below.
        watchdog = threading.Timer(BAR_TIMEOUT, p.kill)
        watchdog.start()
        try:
            got = poll_bar(p, count)
        finally:
            watchdog.cancel()
            if p.poll() is None:
                try:
                    p.stdin.write(json.dumps({"execute": "quit"}) + "\n")
                    p.stdin.flush()
                    p.wait(timeout=10)
                except (OSError, ValueError, subprocess.TimeoutExpired):
                    p.kill()
            p.wait()
        err.seek(0)
        stderr = err.read().strip()
    if got:
        return got, None
    if p.returncode not in (0, None) and p.returncode != -9:
        return None, "QEMU exited %d: %s" % (p.returncode, stderr.splitlines()[-1:] or "")
    return None, "BAR 2 not assigned after %d s" % BAR_TIMEOUT


def poll_bar(p, count):
    """Poll QMP query-pci until every ivsN's BAR 2 holds the same address twice, 0.5 s apart."""

    def execute(command):
        try:
            p.stdin.write(json.dumps({"execute": command}) + "\n")
            p.stdin.flush()
        except (OSError, ValueError):
            return None
        while True:
            line = p.stdout.readline()
            if not line:
                return None
            reply = json.loads(line)
            if "return" in reply or "error" in reply:
                return reply.get("return")

    if not p.stdout.readline() or execute("qmp_capabilities") is None:
        return None
    last = None
    while True:
        devices = execute("query-pci")
        if devices is None:
            return None
        got = {}
        for bus in devices:
            for dev in bus["devices"]:
                if not dev.get("qdev_id", "").startswith("ivs"):
                    continue
                for r in dev["regions"]:
                    # QMP gives an unassigned BAR (or one whose decoding is off) as -1.
                    address = r.get("address", -1) & UNASSIGNED
                    if r["bar"] == 2 and address != UNASSIGNED:
                        got[dev["qdev_id"]] = (address, address + r["size"] - 1)
        if len(got) == count and got == last:
            return got
        last = got
        time.sleep(0.5)


def run_bar_config(qemu, iovamap, topology, tmp, n, config):
    name, firmware, sizes, args = config
    count = len(sizes.split("+"))
    full = bar_args(firmware, sizes, args, tmp, n)
    start = time.monotonic()
    got, why = qemu_bar(qemu, full, tmp, n, count)
    seconds = time.monotonic() - start
    for i in range(count):
        try:
            os.unlink(os.path.join(tmp, "ivshmem%d-%d" % (n, i)))
        except OSError:
            pass
    pred = predict(iovamap, topology, full)
    want = {}
    for m in pred["mappings"]:
        match = re.fullmatch(r"ivshmem (ivs\d+) BAR 2", m["name"])
        if match:
            want[match.group(1)] = (int(m["first"], 16), int(m["last"], 16))

    def fmt(bars):
        if not bars:
            return "none"
        return ", ".join("%s [%s, %s]" % (k, hex(v[0]), hex(v[1])) for k, v in sorted(bars.items()))

    if why:
        return False, "DIFFER  %s (%.1f s): %s; predicted %s\n        %s" % (
            name, seconds, why, fmt(want), " ".join(full))
    if got != want:
        return False, "DIFFER  %s (%.1f s): BAR 2 at %s, predicted %s (window %s: %s)" % (
            name, seconds, fmt(got), fmt(want), pred["layout"]["pci_window"],
            pred["layout"]["pci_window_rule"])
    return True, "agree   %s (%.1f s): BAR 2 at %s" % (name, seconds, fmt(got))


def compare(name, ram, refusal, pred):
    problems = []
    want_refusal = pred["layout"]["qemu_refusal"]
    if refusal or want_refusal:
        if not refusal:
            problems.append("QEMU started; predicted refusal %r" % want_refusal)
        elif not want_refusal or want_refusal not in refusal:
            problems.append("QEMU: %r; predicted %r" % (refusal, want_refusal))
        return problems
    maps = {m["name"]: (int(m["first"], 16), int(m["last"], 16)) for m in pred["mappings"]}
    pc = sorted(ram.get("pc.ram", []))
    below = [r for r in pc if r[0] < 1 << 32]
    above = [r for r in pc if r[0] >= 1 << 32]
    low_end = max(r[1] for r in below) if below else None
    if low_end != maps["ram-below-4g"][1]:
        problems.append("RAM below 4 GiB ends at %s, predicted %s" %
                        (low_end and hex(low_end), hex(maps["ram-below-4g"][1])))
    want_above = maps.get("ram-above-4g")
    got_above = (above[0][0], above[-1][1]) if above else None
    if got_above != want_above:
        problems.append("RAM above 4 GiB %s, predicted %s" %
                        (got_above and tuple(map(hex, got_above)),
                         want_above and tuple(map(hex, want_above))))
    for m in pred["mappings"]:
        if m["kind"] != "DIMM" or m["name"].startswith("hotplug region"):
            continue
        got = None
        for backend, ranges in ram.items():
            if backend in ("pc.ram",):
                continue
            for r in ranges:
                if r[0] == int(m["first"], 16):
                    got = r
        if got != (int(m["first"], 16), int(m["last"], 16)):
            problems.append("DIMM %s at %s, predicted [%s, %s]" %
                            (m["name"], got and tuple(map(hex, got)), m["first"], m["last"]))
    return problems


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    iovamap = sys.argv[1]
    qemu = sys.argv[2] if len(sys.argv) > 2 else shutil.which("qemu-system-x86_64")
    if not qemu or not os.path.exists(qemu):
        print("VM LAB SKIPPED: no qemu-system-x86_64")
        return SKIP
    version = subprocess.run([qemu, "--version"], capture_output=True, text=True).stdout.split("\n")[0]
    print("vm lab:", version)
    failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        topology = os.path.join(tmp, "any.toml")
        with open(topology, "w") as f:
            f.write(TOPOLOGY)
        for name, args in MATRIX:
            ram, refusal = qemu_ram(qemu, args)
            pred = predict(iovamap, topology, args)
            problems = compare(name, ram, refusal, pred)
            if problems:
                failed += 1
                print("DIFFER  %s: %s\n        %s" % (name, " ".join(args), "\n        ".join(problems)))
            else:
                what = refusal if refusal else "RAM, DIMMs as predicted"
                print("agree   %s: %s" % (name, what))
        print("%d of %d configurations agree" % (len(MATRIX) - failed, len(MATRIX)))

        # BARs: the firmware runs. Two at a time (CI's machine has 2 cores).
        start = time.monotonic()
        configs = BAR_MATRIX
        if not (os.path.exists(OVMF_CODE) and os.path.exists(OVMF_VARS)):
            configs = [c for c in BAR_MATRIX if c[1] != "ovmf"]
            print("OVMF rows SKIPPED: no %s (Debian's ovmf package)" % OVMF_CODE)
        bar_failed = 0
        with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
            futures = [pool.submit(run_bar_config, qemu, iovamap, topology, tmp, n, c)
                       for n, c in enumerate(configs)]
            for f in futures:
                ok, line = f.result()
                bar_failed += not ok
                print(line)
        print("%d of %d BAR placements agree (%.1f s)" %
              (len(configs) - bar_failed, len(configs), time.monotonic() - start))
    return 1 if failed or bar_failed else 0


if __name__ == "__main__":
    sys.exit(main())
