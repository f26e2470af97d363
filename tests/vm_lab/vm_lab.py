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
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

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
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
